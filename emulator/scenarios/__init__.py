"""Scenarios: scripted calls (and SMS conversations) with expectations, run against an emulator."""
