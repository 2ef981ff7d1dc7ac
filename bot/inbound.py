"""wechatpy's parsed message → handlers.inbound.Inbound (handlers never see WeChat types)."""

from wechatpy import events, messages

from handlers.inbound import Inbound

_QR_PREFIX = "qrscene_"


def to_inbound(message) -> Inbound:
    """Map a wechatpy message or event; unknown types become kind 'other'."""
    openid = message.source
    if not openid:
        raise ValueError("message without FromUserName")
    if isinstance(message, messages.TextMessage):
        return Inbound(openid, "text", text=message.content or "")
    if isinstance(message, messages.ImageMessage):
        return Inbound(
            openid, "image", pic_url=message.image or "", media_id=message.media_id or ""
        )
    if isinstance(message, messages.VoiceMessage):
        heard = (message.recognition or "").strip()
        return Inbound(openid, "voice", text=heard, media_id=message.media_id or "",
                       recognised=bool(heard))  # fmt: skip
    if isinstance(message, messages.LocationMessage):
        lat, lng = _point(message.location_x, message.location_y)
        return Inbound(openid, "location", lat=lat, lng=lng, label=message.label or "")
    if isinstance(message, events.SubscribeScanEvent):
        return Inbound(openid, "event", event="subscribe", event_key=_scene(message.scene_id))
    if isinstance(message, events.SubscribeEvent):
        return Inbound(openid, "event", event="subscribe", event_key=_scene(message.key))
    if isinstance(message, events.ScanEvent):
        return Inbound(openid, "event", event="scan", event_key=_scene(message.scene_id))
    if isinstance(message, events.UnsubscribeEvent):
        return Inbound(openid, "event", event="unsubscribe")
    if isinstance(message, events.ClickEvent):
        return Inbound(openid, "event", event="click", event_key=message.key or "")
    if isinstance(message, events.LocationEvent):
        lat, lng = _point(message.latitude, message.longitude)
        return Inbound(openid, "event", event="location", lat=lat, lng=lng)
    if isinstance(message, events.BaseEvent):
        return Inbound(openid, "event", event=str(message.event or ""))
    return Inbound(openid, "other")


def _point(lat, lng) -> tuple[float, float]:
    """A real place on Earth: finite, in range (NaN fails every comparison)."""
    lat, lng = float(lat), float(lng)
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise ValueError("location out of range")
    return lat, lng


def _scene(value) -> str:
    value = str(value or "")
    return value.removeprefix(_QR_PREFIX)
