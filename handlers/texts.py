"""Every sentence the bot says in chat. Short, polite, and each says what to do next."""

from models.enums import Role, State, Urgency

WELCOME = (
    "您好，欢迎使用“四单联办”！遇到小区里的问题，直接发文字、语音、照片或位置告诉我就行，"
    "我会帮您报给网格员处理。回复“帮助”看看还能做什么。"
)
BOUND = "已为您绑定小区：{compound}。以后报事默认就是这个小区，直接说问题就行。"
ROLE_GRANTED = "欢迎加入！您现在是{unit}的{role}。回复“帮助”看看您可以做什么。"
INVITE_BAD = "这个邀请码无效或已经用过了，请向社区工作人员核对。"
GOODBYE = ""
CANCELLED = "好的，已取消。有需要随时找我。"
NOTHING_TO_CANCEL = "现在没有进行中的操作。回复“帮助”看看可以做什么。"
TIMEOUT = "刚才的报事太久没有继续，已经放弃了。需要的话请重新说一下问题。"
UNSUPPORTED = "抱歉，我现在只能看懂文字、图片、语音和位置。请用这几种方式告诉我。"
EMPTY = "没有收到内容哦。请用文字、语音、照片或位置告诉我遇到了什么问题。"
VOICE_UNHEARD = "语音没听清，请再说一遍，或者直接打字告诉我。"
# Staff greet, thank and say ok too: a friendly word and the first thing they can do.
STAFF_SMALL_TALK = {
    Role.DISPATCHER: "您好！回复“待派单”看看等待派单的工单，回复“帮助”看全部功能。",
    Role.SUPERVISOR: "您好！回复“今日概况”看辖区今天的数字，回复“帮助”看全部功能。",
}
STAFF_THANKS = "不客气，辛苦了！有需要随时回复“帮助”。"
NOT_UNDERSTOOD = "抱歉，没看懂这条消息。回复“帮助”看看您可以做什么。"
# Staff who type something else get the commands they most likely meant.
STAFF_NOT_UNDERSTOOD = {
    Role.DISPATCHER: (
        "抱歉，没看懂这句。常用的有：待派单、超时工单、今日概况、“派单 #编号 给 志愿者”、"
        "“查询 #编号”。回复“帮助”看全部。"
    ),
    Role.SUPERVISOR: (
        "抱歉，没看懂这句。常用的有：今日概况、本周概况、超时工单、物业评价、“督办 #编号”。"
        "回复“帮助”看全部。"
    ),
}
# A dispatcher's '派错了': the commands that put a dispatch, a category or a duplicate right.
STAFF_FIX_HINT = (
    "没关系，可以改：换人或换单位办理，回复“转单 #编号 给 单位或姓名”；类别不对，回复"
    "“改类 #编号 类别”；重复的单，回复“合并 #编号 到 #编号”。"
)
ERROR = "系统开小差了，请稍后再试。您的消息没有丢，我们会尽快处理。"

ROLE_NAMES = {
    Role.RESIDENT: "居民",
    Role.VOLUNTEER: "志愿者",
    Role.WORKER: "工作人员",
    Role.DISPATCHER: "网格员/社区工作者",
    Role.SUPERVISOR: "督办领导",
}
STATE_NAMES = {
    State.SUBMITTED: "待派单",
    State.DISPATCHED: "已派单",
    State.TAKEN: "办理中",
    State.RESOLVED: "已办结待评价",
    State.CLOSED: "已完成",
    State.CANCELLED: "已撤销",
}
URGENCY_NAMES = {
    Urgency.URGENT: "紧急",
    Urgency.DIFFICULT: "疑难（提级办理）",
    Urgency.HOT: "热点（联合办理）",
    Urgency.NORMAL: "一般",
}

HELP = {
    Role.RESIDENT: (
        "您可以：\n"
        "· 直接说遇到的问题（文字、语音、照片、位置都行），我帮您报事\n"
        "· 我的工单：看办理进度\n"
        "· 查询 #12、催单 #12、撤销 #12、关注 #12\n"
        "· 补充 #12 文字：给已提交的工单补充情况（提交后30分钟内直接发就行）\n"
        "· 办结后回复“满意 / 基本满意 / 不满意”评价"
    ),
    Role.VOLUNTEER: (
        "志愿者可以：\n"
        "· 附近工单：看附近需要帮忙的事\n"
        "· 接单 #12\n"
        "· 进度 #12 已联系物业\n"
        "· 办结 #12（再发一张照片或一句话）\n"
        "· 退单 #12 原因\n"
        "· 我的任务、我的积分\n"
        "遇到问题也可以直接说，我帮您报事。"
    ),
    Role.DISPATCHER: (
        "您可以：\n"
        "· 待派单：看辖区内等待派单的工单\n"
        "· 派单 #12 给 志愿者（或单位名、人名）\n"
        "· 转单 #12 给 …\n"
        "· 提级 #12、协办 #12 单位名\n"
        "· 关闭 #12 原因、合并 #12 到 #13、撤销合并 #12\n"
        "· 改类 #12 电梯 紧急：更正类别和紧急程度\n"
        "· 回访 #12 情况、超时工单、查询 #12\n"
        "· 物业评价：辖区物业公司的红榜和重点监督\n"
        "· 大屏：打开辖区数据大屏"
    ),
    Role.SUPERVISOR: (
        "您可以：\n· 今日概况、本周概况：辖区今天、本周的数字\n· 超时工单\n· 督办 #12\n· 查询 #12\n"
        "· 物业评价：辖区物业公司的红榜和重点监督\n· 大屏：打开辖区数据大屏"
    ),
}
HELP[Role.WORKER] = HELP[Role.VOLUNTEER].replace("志愿者可以", "您可以")
# Incentives (handlers/incentives.py, handlers/wishes.py).
HELP[Role.RESIDENT] += (
    "\n· 微心愿 内容：请志愿者帮个小忙\n· 服务菜单、预约 编号\n· 物业公示、物业超市"
)
HELP[Role.VOLUNTEER] += (
    "\n· 积分商城、兑换 编号、我的兑换\n· 心愿墙、认领心愿 #12\n· 我的服务 理发 周六上午"
)
HELP[Role.DISPATCHER] += (
    "\n· 待审心愿、代办心愿 称呼 小区楼号 内容\n· 积分复核、复核 编号 通过\n"
    "· 一票否决 物业公司 小区 理由、物业公示、物业超市"
)
HELP[Role.SUPERVISOR] += "\n· 待审心愿、一票否决 物业公司 小区 理由、物业公示"

REPORT_ASK_WHAT = "收到。请用一句话说说遇到了什么问题？"
REPORT_ASK_PLACE = (
    "问题在哪里？请发送一个位置（点“+”选“位置”），或者告诉我小区名称，比如“幸福里小区3号楼”。"
)
REPORT_PLACE_UNKNOWN = "没找到这个小区。请发送一个位置，或者换个说法告诉我小区名称。"
REPORT_PICK_CATEGORY = "这件事属于哪一类？请回复数字：\n{choices}\n0. 其他"
REPORT_PICK_AGAIN = "请回复上面列出的数字，比如“1”。"
REPORT_SUMMARY = (
    "请确认报事内容：\n"
    "问题：{text}\n"
    "类别：{category}（{urgency}）\n"
    "地点：{place}\n"
    "{photos}"
    "回复“确认”提交；也可以继续补充（发照片、位置或“5号楼”），回复“取消”放弃。"
)
REPORT_FILED = (
    "已提交，工单号 {number}。网格员会尽快派单，有进展我会告诉您。想看进度回复“查询 {number}”。"
)
REPORT_FILED_URGENT = (
    "紧急情况已立即上报，工单号 {number}，值班人员已收到。\n{advice}\n有新情况可以随时补充。"
)
REPORT_URGENT_NEED_PLACE = "{advice}\n这件事很紧急，请马上发送位置或告诉我小区和楼号，我立即上报。"
REPORT_NOTED = "已补充。"
# Asked first when the classifier is unsure whether someone is in danger (one tap: 1).
REPORT_DANGER_QUESTION = "现在有人受伤、被困或有明火/燃气味吗？回复 1 立即上报"
DUPLICATE_OFFER = (
    "附近已经有人反映了类似的问题：\n{items}\n"
    "是不是同一件？回复对应数字关注这一件（有进展会告诉您），回复“不是”继续提交新工单。"
)
DUPLICATE_JOINED = "好的，您已关注工单 {number}（已有 {count} 人反映），有进展会第一时间告诉您。"

MY_TICKETS_EMPTY = "您还没有提交过工单。遇到问题直接告诉我就行。"
MY_TICKETS = "您的工单（最近{n}件）：\n{items}\n回复“查询 #编号”看详情。"
DETAIL = "{line}\n问题：{text}\n进展：\n{timeline}"
RATED_HAPPY = "感谢您的评价！工单 {number} 已完成。有其他问题随时找我。"
RATE_WHICH = "您有多件工单在等评价，请回复“评价 #编号 满意”。"
URGED = "已催办工单 {number}，我们会督促尽快处理。"
CANCELLED_TICKET = "工单 {number} 已撤销。"

NEARBY_EMPTY = "附近暂时没有需要接的工单，辛苦了！有新单会推送给您。"
NEARBY = "附近待接的工单：\n{items}\n回复“接单 #编号”接单。"
TAKEN = (
    "接单成功：{brief}\n问题：{text}\n办好后回复“办结 {number}”，有进展回复“进度 {number} 内容”。"
)
PROGRESS_SAVED = "进展已告诉居民。"
RESOLVE_ASK_PROOF = "请发一张现场照片，或者用一句话说说处理结果，我就为工单 {number} 办结。"
RESOLVED = "工单 {number} 已办结，已请居民评价。辛苦了！"
HANDED_BACK = "工单 {number} 已退回，{staff}会重新安排。谢谢您告诉我们原因。"
HANDED_BACK_POOL = "工单 {number} 已退回志愿者接单池，其他志愿者可以接。谢谢您告诉我们原因。"
MY_TASKS_EMPTY = "您手上没有进行中的工单。回复“附近工单”看看有没有需要帮忙的。"
MY_TASKS = "您正在办的工单：\n{items}"
MY_POINTS = "您共有 {total} 积分，完成 {count} 单。感谢您的付出！"
NEED_VOLUNTEER = (
    "这个功能是给志愿者和工作人员用的。想成为志愿者，请向社区要一个邀请码，发“邀请码 XXXX”给我。"
)

QUEUE_EMPTY = "辖区内暂时没有待派单的工单。"
QUEUE = "待派单（{n}件）：\n{items}\n回复“派单 #编号 给 志愿者”或单位名、人名。"
DISPATCHED = "已派单：{brief} → {target}。"
TARGET_UNKNOWN = "没找到“{name}”。可以写“志愿者”（发到接单池）、单位全名（如“红管家物业”）或志愿者/工作人员的姓名。"
TARGET_AMBIGUOUS = "有几位都叫“{name}”，请写得更具体一些。"
DONE = "好的，{what}：{brief}。"
OVERDUE_EMPTY = "辖区内没有超时的工单。"
OVERDUE = "超时工单（{n}件，最久的在前）：\n{items}\n回复“督办 #编号”催办。"
NEED_STAFF = "这个功能需要网格员、社区工作者或领导身份。"
DASHBOARD_LINK = (
    "{unit}的数据大屏：\n{url}\n"
    "链接只能打开一次，{minutes}分钟内有效；过期了再发“大屏”即可。请勿转发。"
)
DASHBOARD_OFF = "数据大屏暂时没有开通，请联系系统管理员。"
FORMAT_HINT = "格式不太对，可以这样写：{example}"

# -- staff side: refusals that fit the person, merge questions, corrections ------------------

REFUSE_RESIDENT_STAFF = (
    "这个功能需要网格员、社区工作人员或领导身份。您报的事会有专人派单，回复“我的工单”看进度。"
)
REFUSE_ASSIGNEE = (
    "这个功能需要网格员、社区工作人员或领导身份。您可以回复“附近工单”找单，“我的任务”看手上的单；"
    "发现问题直接告诉我，我帮您报事。"
)
REFUSE_DISPATCHER_TAKE = (
    "接单、办结由志愿者和工作人员来做，您可以把工单派给他们：“派单 #12 给 志愿者”或单位名、人名。"
    "等您派的单回复“待派单”查看。"
)
REFUSE_DISPATCHER_URGE = (
    "督办是领导的功能。您可以“提级 #12”交上一级，或“转单 #12 给 …”换人办理；"
    "看超时的单回复“超时工单”。"
)
REFUSE_DISPATCHER_CANCEL = (
    "撤销是居民撤回自己报的事。要关闭工单请回复“关闭 #12 原因”，合并错了请回复“撤销合并 #12”。"
)
REFUSE_SUPERVISOR = (
    "{what}由网格员或社区工作人员来做。您可以“督办 #12”催办，“提级 #12”交上一级，"
    "或看“超时工单”“今日概况”。"
)
REFUSE_SUPERVISOR_DISPATCH = "派单、转单、合并、关闭"
REFUSE_SUPERVISOR_TAKE = "接单、办结由志愿者和工作人员来做，派单"
MERGE_ASK = (
    "{a} 和 {b} 看起来不是同一件事：\n{doubts}\n"
    "确定要把 {a} 合并到 {b} 吗？回复“确认合并”合并，回复“取消”不合并。"
)
MERGE_ASK_AGAIN = "请回复“确认合并”把 {a} 合并到 {b}，或回复“取消”不合并。"
MERGE_DECLINED = "好的，不合并了，{a} 和 {b} 各自办理。"
MERGED = "好的，{a} 已合并到 {b}，已告诉{a}的居民。合并错了可以回复“撤销合并 {a}”。"
UNMERGED = "好的，已撤销合并：{brief} 恢复为“{state}”，已告诉居民。"
RECATEGORIZED = (
    "好的，工单 {number} 已由 {old} 改为 {new}。{extra}已记下这次更正，分类助手会从中学习。"
)
RECATEGORIZED_RELEASED = (
    "原来的{holder}不再负责，已告诉对方，现在待派单：回复“派单 {number} 给 {target}”。"
)
RECATEGORIZED_MOVED = "按{urgency}的规定已转到{unit}办理。"
RECATEGORIZED_ON_DUTY = "已通知社区值班人员。"
RECATEGORIZE_WHICH = "请写要改成的类别，比如“改类 #12 电梯 紧急”。可选类别：{names}。"
MY_TASKS_UNIT = "{line}（派给{unit}，回复“接单 {number}”接下）"
JOB_CARD = "详细地点：{place}\n联系人：{who}（请只为办这件事联系，不要外传）"
