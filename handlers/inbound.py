"""What a person sent, independent of WeChat's XML: the input every handler step gets."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Inbound:
    """One message or event from one person."""

    openid: str
    kind: str  # text | image | voice | location | event | other
    text: str = ""
    media_id: str = ""
    pic_url: str = ""
    lat: float | None = None
    lng: float | None = None
    label: str = ""
    event: str = ""  # subscribe | unsubscribe | scan | click | location
    event_key: str = ""
    recognised: bool = True  # voice: False when WeChat gave no Recognition text
    extra: dict = field(default_factory=dict)

    @property
    def photo(self) -> str:
        """How a photo is kept on a ticket: its URL, else the media id."""
        return self.pic_url or (f"media:{self.media_id}" if self.media_id else "")

    @property
    def clean_text(self) -> str:
        return " ".join(self.text.split())
