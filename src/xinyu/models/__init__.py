"""Model registry, loading and chat templates."""
