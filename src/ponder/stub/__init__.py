"""``ponder stub``: an OpenAI-compatible thinking model with a known schedule.

:mod:`ponder.stub.schedule` says when each thought and answer token is sent;
:mod:`ponder.stub.server` serves that schedule over real HTTP on loopback.
"""
