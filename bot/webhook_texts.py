"""What the webhook itself says when it cannot answer normally (the handlers say the rest)."""

# The message is parked (in Redis, or in the database while Redis is down) and will be handled
# when the cause has gone; the answer comes by push. Danger cannot wait for that.
PARKED = (
    "收到您的消息了。系统正在忙，处理好后会马上通知您，不用重发。如有人身危险，请立即拨打110或119。"
)
# Redis and the database both down: nothing was kept, so the person must send again.
BUSY = "抱歉，系统正在维护，这条消息没能收到。请过几分钟再发一次。"
TOO_FAST = "您发得太快了，请稍等一分钟再发。"
# A new follower's welcome waits in the same backlog; they have not asked anything yet.
PARKED_WELCOME = "欢迎关注！系统正忙，使用说明稍后发给您。有问题可以直接发文字、语音或照片给我们。"
# Events nobody sees an answer to (unfollowing, the location WeChat reports by itself).
_SILENT_EVENTS = {"unsubscribe", "location"}


def parked(inbound) -> str:
    """The answer for a message parked to be handled later, fitting what was sent."""
    if inbound.kind == "event" and inbound.event in _SILENT_EVENTS:
        return ""
    if inbound.kind == "event" and inbound.event == "subscribe":
        return PARKED_WELCOME
    return PARKED
