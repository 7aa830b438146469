"""Scenarios: scripted calls (and SMS conversations) with expectations, run against an emulator.

model (the format), runner (runs one over HTTP), expect (the checks), metrics (a call's figures),
chat (callers backed by a chat model, with cassettes), baseline (save and compare runs), report
(people and CI), export (a call or SMS thread written back as a scenario), cli (`scenario run`).
"""
