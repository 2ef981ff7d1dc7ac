"""`sidan chat` from two terminals at once, as two people: replies never cross."""

import threading

from bot.chat import ChatClient
from bot.wechat_sign import WeChatSigner


def test_two_simulators_at_once_each_get_only_their_own_replies(chat, demo, live_server, config):
    mine = {}
    for openid, problem in (
        ("demo_resident_1", "3号楼楼道灯坏了"),
        ("demo_resident_4", "单元门的门禁坏了"),
    ):
        client = chat(openid)
        client.say(problem)
        mine[openid] = client.say("确认").split("工单号 ")[1].split("。")[0]  # "#1"
    replies = {openid: [] for openid in mine}
    start = threading.Barrier(len(mine))

    def terminal(openid: str) -> None:
        # A simulator of its own, as a second terminal would run: its own session and ids.
        client = ChatClient(live_server, config.WECHAT_TOKEN, openid, appid=config.WECHAT_APPID)
        start.wait()
        for _ in range(15):
            replies[openid].append(client.say("我的工单"))

    threads = [threading.Thread(target=terminal, args=(openid,)) for openid in mine]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for openid, number in mine.items():
        other = next(n for o, n in mine.items() if o != openid)
        assert len(replies[openid]) == 15
        assert all(number in r and other not in r for r in replies[openid]), replies[openid]


def test_two_simulators_sending_the_same_msgid_at_once_are_not_taken_for_retries(
    chat, demo, live_server, config
):
    import requests

    from bot.chat import reply_text

    bodies = {}
    for openid, text in (("demo_resident_1", "帮助"), ("demo_volunteer_1", "我的积分")):
        signer = WeChatSigner(token=config.WECHAT_TOKEN, openid=openid)
        bodies[openid] = signer.sign(signer.xml("text", {"Content": text}, msg_id=777))
    replies = {}
    start = threading.Barrier(2)

    def post(openid):
        query, body = bodies[openid]
        start.wait()
        answer = requests.post(f"{live_server}/wechat", params=query, data=body, timeout=10)
        replies[openid] = reply_text(answer.text)

    threads = [threading.Thread(target=post, args=(o,)) for o in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert "积分" in replies["demo_volunteer_1"]
    assert "我的工单" in replies["demo_resident_1"]
