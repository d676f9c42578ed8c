"""Serving: backends, the conversation engine, terminal chat, HTTP API, web page, session store."""
