"""What the webhook itself says when it cannot answer normally (the handlers say the rest)."""

# The message is parked (in Redis, or in the database while Redis is down) and will be handled
# when the cause has gone; the answer comes by push. Danger cannot wait for that.
PARKED = (
    "收到您的消息了。系统正在忙，处理好后会马上通知您，不用重发。如有人身危险，请立即拨打110或119。"
)
# Redis and the database both down: nothing was kept, so the person must send again.
BUSY = "抱歉，系统正在维护，这条消息没能收到。请过几分钟再发一次。"
TOO_FAST = "您发得太快了，请稍等一分钟再发。"
