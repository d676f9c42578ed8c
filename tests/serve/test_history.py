from xinyu.serve.history import MESSAGE_OVERHEAD, HistoryBudget, estimate_tokens, exchanges


def _history(n):
    out = []
    for i in range(n):
        out += [{"role": "user", "content": f"问题{i}" * 10}, {"role": "assistant", "content": f"回答{i}" * 10}]
    return out


def test_exchanges_group_user_and_reply():
    groups = exchanges([{"role": "system", "content": "s"}, *_history(2), {"role": "user", "content": "x"}])
    assert [len(g) for g in groups] == [2, 2, 1]


def test_turn_limit_keeps_latest_exchanges():
    kept = HistoryBudget(max_turns=2, max_tokens=10**6).fit("系统", _history(5), "现在")
    assert [m["content"][:3] for m in kept] == ["问题3", "回答3", "问题4", "回答4"]
    assert HistoryBudget(max_turns=0, max_tokens=10**6).fit("系统", _history(5), "现在") == []


def test_token_limit_drops_oldest_first_and_keeps_system_and_user():
    history = _history(4)  # each message 30 chars -> 34 estimated tokens
    per_exchange = 2 * (30 + MESSAGE_OVERHEAD)
    fixed = (2 + MESSAGE_OVERHEAD) + (2 + MESSAGE_OVERHEAD)
    budget = HistoryBudget(max_turns=12, max_tokens=fixed + 2 * per_exchange)
    kept = budget.fit("系统", history, "现在")
    assert [m["content"][:3] for m in kept] == ["问题2", "回答2", "问题3", "回答3"]
    # One token less and only the newest exchange fits.
    budget.max_tokens -= 1
    assert [m["content"][:3] for m in budget.fit("系统", history, "现在")] == ["问题3", "回答3"]
    # Nothing fits: history is empty, the caller still sends system + user.
    assert HistoryBudget(max_tokens=5).fit("系统", history, "现在") == []


def test_custom_counter_is_used():
    calls = []

    def count(text):
        calls.append(text)
        return 1

    kept = HistoryBudget(max_turns=12, max_tokens=3 + 2 * MESSAGE_OVERHEAD + 2 * (1 + MESSAGE_OVERHEAD)).fit(
        "s", _history(3), "u", count
    )
    assert len(kept) == 2 and calls  # exactly one exchange fits with 1 token per message
    assert estimate_tokens("你好ab") == 4
