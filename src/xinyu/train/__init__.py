"""Training: SFT, reward model, DPO and online RL stages, multi-stage recipes, export."""
