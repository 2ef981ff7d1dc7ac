"""What a handler needs from the outside world, passed in by the web layer."""

from dataclasses import dataclass

from handlers.conversation import ConversationStore


class ConversationBusy(RuntimeError):
    """The person's previous message is still being handled past the lock's wait: try later."""


@dataclass
class Context:
    """Shared services for one incoming message."""

    store: ConversationStore
    redis: object
    prefix: str
    conversation_ttl_s: int = 1800
    lock_wait_s: float = 45.0  # how long a message waits for the person's previous one

    def key(self, *parts) -> str:
        return self.prefix + ":".join(str(p) for p in parts)
