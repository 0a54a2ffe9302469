"""Local accounts: creating them, their keys, passwords and the instance actor."""
