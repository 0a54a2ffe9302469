"""What local actions mean: the services the CLI, the client API and the web pages call.

Each function changes our tables and publishes the matching activity through
the outbox; the caller commits, so a change and its deliveries land together.
"""
