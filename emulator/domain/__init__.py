"""Domain rules: state and invariants, no HTTP. Every function takes a session and the time."""
