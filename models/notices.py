"""Chinese text of the notifications transitions enqueue (replies to chat live in handlers).

Short, polite, and each one says what the reader can do next.
"""

from models import privacy
from models.enums import TicketKind
from models.routing import routing

URGENT_ADVICE = {
    "fire_safety": "如有明火或浓烟，请立即拨打119并远离现场；燃气泄漏请关阀开窗，不要开关电器。",
    "elevator": "如有人被困，请拨打电梯内的紧急电话或119，不要强行扒门。",
    "water_supply": "请先关闭总水阀，把贵重物品挪到高处。",
    "power_lighting": "请远离断落的电线和漏电处，不要触碰；有人受伤或靠医疗设备用电，请立即拨打120。"
    "抢修电力可拨95598。",
    "security": "如遇危险请立即拨打110。",
    "health": "如有人昏迷、受伤或突发疾病，请立即拨打120，不要等我们回复。",
    "elderly_help": "如老人昏迷、摔倒起不来或联系不上，请立即拨打120或110。",
}
DEFAULT_URGENT_ADVICE = "如有人身危险，请立即拨打110、119或120。"


def category_name(code: str) -> str:
    return routing().category(code).name


def brief(ticket, place: str | None = None) -> str:
    """'#12 消防安全 · 幸福小区3号楼' — the one-line identity of a ticket. Pushes go to staff and
    volunteers, so the place stops at the building unless the caller passes one (privacy)."""
    place = place if place is not None else privacy.place_at(ticket, privacy.PlaceLevel.BUILDING)
    return f"{ticket.number} {category_name(ticket.category)} · {place or '位置待补充'}"


def snippet(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def said(ticket, limit: int = 40) -> str:
    """The resident's words for staff and volunteers: numbers and rooms masked (privacy)."""
    return snippet(privacy.mask_text(ticket.text), limit)


def new_ticket(ticket) -> str:
    tag = "【紧急】" if ticket.urgency == "urgent" else ""
    return (
        f"{tag}新工单 {brief(ticket)}：{said(ticket)}\n"
        f"请尽快派单：回复“派单 {ticket.number} 给 志愿者”或指定单位/人员。"
    )


def urgent_on_duty(ticket) -> str:
    return f"【紧急·请值班人员关注】{brief(ticket)}：{said(ticket)}"


def dispatched_to_you(ticket) -> str:
    return (
        f"您有新派单 {brief(ticket)}：{said(ticket)}\n"
        f"回复“接单 {ticket.number}”接下此单，或“退单 {ticket.number} 原因”。"
    )


def pool_offer(ticket, distance_m: float | None) -> str:
    where = f"，距您约{int(distance_m)}米" if distance_m is not None else ""
    if ticket.kind == TicketKind.WISH:
        return (
            f"心愿墙上有一个新的微心愿{where}：{brief(ticket)}：{snippet(ticket.text)}\n"
            f"愿意帮忙实现的话回复“认领心愿 {ticket.number}”，先到先得。"
        )
    return (
        f"附近有一单需要帮忙{where}：{brief(ticket)}：{said(ticket)}\n"
        f"愿意的话回复“接单 {ticket.number}”，先到先得。"
    )


def reporter_dispatched(ticket) -> str:
    if ticket.kind == TicketKind.WISH:
        return f"您的微心愿 {ticket.number} 已审核通过，发布到了心愿墙，有志愿者认领时会告诉您。"
    return f"您反映的问题 {ticket.number} 已派单处理，我们会及时告诉您进展。"


def reporter_taken(ticket, assignee) -> str:
    # The reporter and the assignee who took it may see each other (privacy).
    phone = f"（电话 {assignee.phone}）" if assignee.phone else ""
    return f"您的工单 {ticket.number} 已由{assignee.name or '志愿者'}{phone}接单，正在处理。"


def reassigned_away(ticket) -> str:
    return f"工单 {ticket.number} 已转给其他人办理，您不用再处理了，谢谢。"


STAFF_TITLES = {
    "grid": "网格员",
    "community": "社区工作人员",
    "street": "街道工作人员",
    "city": "市级调度中心",
}
URGENCY_WORDS = {"urgent": "紧急", "difficult": "疑难", "hot": "热点", "normal": "一般"}


def staff_title(level: str) -> str:
    """Who dispatches at this level, as people call them (网格员, 社区工作人员 …)."""
    return STAFF_TITLES.get(level, "工作人员")


def dispatch_hint(ticket) -> str:
    return f"现在待派单：回复“派单 {ticket.number} 给 志愿者”或单位名、人名。"


def handed_back(ticket, reason: str) -> str:
    if ticket.in_pool:
        return (
            f"工单 {brief(ticket)} 被退回（原因：{snippet(reason, 30)}），已回到志愿者接单池等别人接；"
            f"也可以回复“转单 {ticket.number} 给 …”另派。"
        )
    return f"工单 {brief(ticket)} 被退回（原因：{snippet(reason, 30)}）。{dispatch_hint(ticket)}"


def progress(ticket, note: str) -> str:
    return f"您的工单 {ticket.number} 有新进展：{snippet(note, 80)}"


def rating_request(ticket) -> str:
    if ticket.kind == TicketKind.WISH:
        return (
            f"您的微心愿 {ticket.number} 已经实现啦！请回复“评价 {ticket.number} 满意”，"
            "也可以加一句感谢的话，我们会转告志愿者。"
        )
    return (
        f"您的工单 {ticket.number} 已办结。请为这次服务打分：\n"
        "回复 1-5 分，或“满意 / 基本满意 / 不满意”，也可以补充一句意见。"
    )


def rating_reminder(ticket) -> str:
    return (
        f"工单 {ticket.number} 已办结一天了，还没收到您的评价。"
        "回复“满意 / 基本满意 / 不满意”即可，您的意见对我们很重要。"
    )


def resolved_for_follower(ticket) -> str:
    return f"您关注的工单 {ticket.number} 已办结。"


def rated(ticket, score: int, points: int) -> str:
    extra = f"，获得 {points} 积分" if points else ""
    return f"工单 {ticket.number} 收到评价：{score} 分{extra}。感谢您的付出！"


def reopened(ticket, reason: str) -> str:
    return (
        f"工单 {brief(ticket)} 因“{snippet(reason, 30)}”被重新打开，已提级到{ticket.org_unit.name}。"
        f"{dispatch_hint(ticket)}"
    )


def reopened_for_previous(ticket, reason: str) -> str:
    return (
        f"您办结的工单 {brief(ticket)} 要返工：“{snippet(reason, 30)}”。"
        f"已交{ticket.org_unit.name}重新安排，您不用再回复这一单，谢谢您的付出。"
    )


def reporter_reopened(ticket) -> str:
    return f"很抱歉没让您满意。工单 {ticket.number} 已重新打开并提级处理，我们会再跟进。"


def escalated(ticket, reason: str) -> str:
    return f"工单 {brief(ticket)} 已提级到您处（{reason}），请尽快处理。"


def reporter_escalated(ticket) -> str:
    return f"您的工单 {ticket.number} 已提级到上一级处理，会有专人跟进。"


def reminder(ticket, step_name: str) -> str:
    return f"提醒：工单 {brief(ticket)} 的{step_name}已超时，请尽快处理。"


def assist_request(ticket) -> str:
    return f"请协助办理工单 {brief(ticket)}：{said(ticket)}"


def urged(ticket, by_supervisor: bool) -> str:
    who = "领导督办" if by_supervisor else "居民催单"
    return f"【{who}】工单 {brief(ticket)} 还在等处理，请尽快办理并回复进展。"


def cancelled(ticket) -> str:
    return f"工单 {brief(ticket)} 已由居民撤销，您不用再处理了。"


def closed(ticket, reason: str) -> str:
    return f"您的工单 {ticket.number} 已关闭：{reason}。如问题仍在，可以随时重新报事。"


def merged(ticket, into) -> str:
    return f"您的工单 {ticket.number} 与 {into.number} 是同一件事，已合并，之后的进展会一起告诉您。"


def merged_for_holder(ticket, into) -> str:
    return f"工单 {brief(ticket)} 与 {into.number} 是同一件事，已合并过去，您不用再处理这一单了。"


def unmerged(ticket, into_number: str) -> str:
    return (
        f"您的工单 {ticket.number} 之前被合并到 {into_number}，经核对不是同一件事，"
        "现已恢复单独办理，进展会单独告诉您。"
    )


def unmerged_for_staff(ticket, into_number: str) -> str:
    return f"工单 {brief(ticket)} 已撤销与 {into_number} 的合并，恢复办理，请继续跟进。"


def recategorized(ticket, what: str) -> str:
    return f"工单 {brief(ticket)} 已改为{what}，请按新的类别办理。"


def released(ticket, what: str) -> str:
    return f"工单 {brief(ticket)} 已改为{what}，改由其他单位负责，您不用再处理了，谢谢。"


def rerouted(ticket, what: str) -> str:
    return f"工单 {brief(ticket)} 已改为{what}，转到您处。{dispatch_hint(ticket)}"


def follow_up_task(ticket) -> str:
    """The task is a phone call, so the community's dispatchers get the number in clear (as the
    taker of a job does); a reporter without a phone is said to have none."""
    reporter = ticket.reporter
    phone = reporter.phone or "未留电话，请查询工单后上门回访"
    return (
        f"回访任务：工单 {brief(ticket)} 办结后居民72小时未评价，"
        f"请电话回访：{reporter.name or '居民'} {phone}（只为回访联系，不要外传）。"
        f"回访后回复“回访 {ticket.number} 情况”。"
    )


def subscribed(ticket) -> str:
    return f"又有一位邻居反映了工单 {brief(ticket)} 的问题（共 {ticket.subscriber_count + 1} 人）。"
