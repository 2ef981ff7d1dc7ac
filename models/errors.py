"""The one domain error type: its message is polite Chinese the bot can show as is."""


class TicketError(Exception):
    """An action that may not happen. `code` tells the API which HTTP status fits."""

    STATUS = {"not_found": 404, "forbidden": 403, "conflict": 409, "invalid": 400, "rate": 429}

    def __init__(self, message: str, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.code = code

    @property
    def http_status(self) -> int:
        return self.STATUS.get(self.code, 400)
