"""What a handler needs from the outside world, passed in by the web layer."""

from dataclasses import dataclass

from handlers.conversation import ConversationStore


@dataclass
class Context:
    """Shared services for one incoming message."""

    store: ConversationStore
    redis: object
    prefix: str
    conversation_ttl_s: int = 1800

    def key(self, *parts) -> str:
        return self.prefix + ":".join(str(p) for p in parts)
