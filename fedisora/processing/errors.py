"""The error local actions raise: a message safe to show, and an HTTP status for the APIs."""


class ActionError(Exception):
    def __init__(self, message: str, status_code: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
