"""What owners are told about a vote (opening, reminder, result), queued in the outbox.

Each goes to the WeChat users bound to the compound's households on the vote's roll, once per
user (dedupe keys), in the transaction that caused it.
"""

from datetime import timedelta

from models.clock import to_local
from models.outbox import enqueue
from models.owners import Household
from models.votes import Vote, VoteRoll, kind


def _when(at) -> str:
    return f"{to_local(at):%m月%d日 %H:%M}"


def _voters(vote: Vote, exclude_voted: bool = False) -> list:
    from models.ballots import Participation
    from models.org import User

    query = (
        User.select()
        .join(Household, on=(Household.user == User.id))
        .join(VoteRoll, on=(VoteRoll.household == Household.id))
        .where(VoteRoll.vote == vote)
    )
    if exclude_voted:
        query = query.where(
            Household.id.not_in(
                Participation.select(Participation.household).where(Participation.vote == vote)
            )
        )
    return list(query.distinct().order_by(User.id))


def options_text(vote: Vote) -> str:
    return "\n".join(f"{i}. {text}" for i, text in enumerate(vote.options, 1))


def announce_open(vote: Vote) -> int:
    text = (
        f"【业主表决 {vote.number}】{vote.compound.name}：{vote.question}\n"
        f"{options_text(vote)}\n"
        f"事项类型：{kind(vote.kind).name}；截止时间：{_when(vote.closes_at)}。\n"
        "回复“投票”参加，每户一票，结果在截止后公布。"
    )
    return _send(vote, _voters(vote), text, "open")


def remind_missing(vote: Vote) -> int:
    left = vote.closes_at - vote.reminded_at if vote.reminded_at else timedelta(0)
    hours = max(int(left.total_seconds() // 3600), 1)
    text = (
        f"【表决提醒 {vote.number}】{vote.question}\n"
        f"还有约{hours}小时截止（{_when(vote.closes_at)}），您的房屋还没有投票。"
        "回复“投票”参加。"
    )
    return _send(vote, _voters(vote, exclude_voted=True), text, "remind")


def result_text(vote: Vote) -> str:
    result = vote.result or {}
    part = result.get("participation", {})
    lines = [f"【表决结果 {vote.number}】{vote.question}"]
    for option in result.get("options", []):
        lines.append(
            f"{option['number']}. {option['text']}：{option['ballots']}户，"
            f"面积{option['area_x100'] / 100:.2f}㎡"
        )
    lines.append(
        f"参与：{part.get('households', 0)}户，面积{part.get('area_x100', 0) / 100:.2f}㎡"
        f"/{part.get('total_area_x100', 0) / 100:.2f}㎡。"
    )
    if not result.get("quorum_met"):
        lines.append("参与表决的面积或人数未达到三分之二，本次表决不生效。")
    elif result.get("passed_option"):
        chosen = vote.options[result["passed_option"] - 1]
        lines.append(f"结果：“{chosen}”达到法定多数，通过。")
    else:
        lines.append("结果：没有选项达到法定多数，未通过。")
    lines.append(f"公示哈希：{vote.tally_hash[:16]}…；回复“核对 回执码”查看您的选票。")
    return "\n".join(lines)


def announce_result(vote: Vote) -> int:
    return _send(vote, _voters(vote), result_text(vote), "result")


def _send(vote: Vote, users: list, text: str, what: str) -> int:
    sent = 0
    for user in users:
        if enqueue(user, text, template="vote", dedupe_key=f"vote:{vote.id}:{what}:{user.id}"):
            sent += 1
    return sent
