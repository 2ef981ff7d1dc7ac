"""What the bot says to residents around small talk, second thoughts, follow-ups and scans.

Kept apart from handlers/texts.py so the resident chat's copy reads in one place. Every
sentence says what the person can do next.
"""

from handlers import smalltalk, texts

WHAT_I_DO = (
    "遇到小区里的问题，直接用文字、语音、照片或位置告诉我，我帮您报给网格员；回复“我的工单”看进度。"
)

SMALL_TALK = {
    smalltalk.GREETING: "您好！我在。" + WHAT_I_DO,
    smalltalk.THANKS: "不客气，这是我们应该做的！还有其他问题随时告诉我。",
    smalltalk.ACK: "好的。有问题随时告诉我，回复“帮助”看看能做什么。",
    smalltalk.BYE: "再见！小区里有问题随时告诉我。",
    smalltalk.TEST: "收到，一切正常。" + WHAT_I_DO,
    smalltalk.LAUGH: "😊 有需要随时找我。" + WHAT_I_DO,
    smalltalk.ABOUT: "我是社区的“四单联办”助手。" + WHAT_I_DO + "回复“帮助”看全部功能。",
    smalltalk.NEVER_MIND: "好的，没关系。有问题随时告诉我。",
    smalltalk.VAGUE: "请用一句话说说具体是什么问题、在哪里，比如“3号楼楼道灯坏了”，我帮您报事。",
    smalltalk.GIBBERISH: "抱歉，没看懂这条消息。" + WHAT_I_DO,
}
TAKER_NOTE = "\n志愿接单：回复“附近工单”看可以接的单，回复“我的任务”看手上的工单。"
PROGRESS_IN_OWN_WORDS = (
    "已记为工单 {number} 的进展，并告诉了居民。办好后回复“办结 {number}”。"
    "如果这是要报的新问题，请回复“报事”再说。"
)
# The taker's words say the job is done: recorded as progress, and the finish offered.
PROGRESS_DONE_IN_OWN_WORDS = (
    "已记为工单 {number} 的进展，并告诉了居民。听起来已经办好了：回复“办结 {number}”就办结，"
    "居民会收到评价邀请；还没完的话不用管这句。"
)
HAND_BACK_HOW = (
    "不要紧。要把工单退回，请回复“退单 {number} 原因”，比如“退单 {number} 接错了”，"
    "工单会交回重新安排；只是说明进展的话，请回复“进度 {number} 内容”。"
)
# After a progress line when a report draft was open (a taker's words answered no menu of it).
DRAFT_DROPPED = "\n刚才那条没有当作新问题上报。"
PROGRESS_WHICH = (
    "您手上有 {numbers} 几张工单，请回复“进度 #编号 内容”，比如“进度 #{number} 已到现场”。"
)
# A resident takes back what they just filed: the ticket stays open until they cancel it.
TAKE_BACK_NOTE = "\n工单 {number} 还会照常办理；如果不用办了，回复“撤销 {number}”就撤销。"
RECENT_NOTE = "\n您的工单 {number} 已经提交，有进展会告诉您；有新情况直接发来，我补充进去。"
EMOJI_ONLY = "收到～有问题请用文字、语音、照片或位置告诉我，我帮您报事。"
UNCLEAR = (
    "没太明白您的意思。如果遇到了问题，请说说是什么事、在哪里，比如“3号楼楼道灯坏了”；"
    "回复“帮助”看看还能做什么。"
)
_TELL_ME = "请说说遇到了什么问题、在哪里？比如“3号楼楼道灯坏了”。也可以先发照片或位置。"
ASK_WHAT = "好的，" + _TELL_ME
INTRO_ASK_WHAT = "您好！" + _TELL_ME  # '我是物业的': who is writing, not yet what happened
ASK_WHAT_AGAIN = "请用一句话说说具体是什么问题，比如“3号楼楼道灯坏了”“楼上漏水到我家”。"
CHASE_NO_TICKET = "您现在没有在办的工单。遇到问题直接告诉我，我帮您报事。"
DUE_BY = "按时限应在 {when} 前办结，超时会自动提级督办。"
# {due}: DUE_BY and a line break, or nothing.
CHASE_LATEST = "您的工单 {line}\n{due}想催一下请回复“催单 {number}”，看详情回复“查询 {number}”。"
# Inside a draft: the small talk is not added to it, and the question stands.
DRAFT_SMALL_TALK = "好的。{question}"
ANOTHER_PROBLEM = (
    "这听起来是另一件事（{category}）。回复“确认”先提交“{first}”，我接着帮您报这一件；"
    "如果是同一件事的补充，回复“补充进去”。"
)
NEXT_PROBLEM = "接下来是您说的另一件事：\n"
CONFIRM_AGAIN = "没太明白这句。要补充请直接说具体情况或发照片。\n{summary}"

PRAISE_ASK_SCORE = (
    "谢谢您的认可！给工单 {number} 打个分吧：回复“满意”“基本满意”或“不满意”，也可以回复 1–5 分。"
)
NO_RATING_WAITING = "您现在没有需要评价的工单，谢谢您！有新问题直接告诉我。"
ALREADY_RATED = "工单 {number} 您已经评价过了，谢谢！有新问题直接告诉我。"
RATED_DRAFT_KEPT = "\n（您刚才的报事还没提交，回复“确认”提交，或“取消”放弃。）"

# Numbered menus say exactly which answers they take.
PICK_ONLY = "请回复 {options}。"
DETAIL_ASK_PLACE = "好的，记下了。" + texts.REPORT_ASK_PLACE
DETAIL_KEPT = "好的，已记下（地点：{place}）。"
DUPLICATE_ONLY = "请回复 {options} 关注已有的工单，或回复“不是”提交新工单。"
OWN_DUPLICATE_ONLY = "请回复 {options} 补充到您已报的工单，或回复“不是”提交新工单。"
OWN_DUPLICATE_OFFER = (
    "您已经报过类似的问题：\n{items}\n"
    "是同一件吗？回复对应数字，我把这次的内容补充到那张工单；回复“不是”提交新工单。"
)

LOCATION_DRAFT = "收到位置（{place}）。请说说这里遇到了什么问题？"
LOCATION_OUTSIDE = (
    "收到位置，不过这里不在我们服务的范围内。请说说遇到了什么问题，并告诉我小区名称。"
)
PHOTO_DRAFT = "收到照片。请用一句话说说照片里是什么问题、在哪里？"

SUPPLEMENT_WINDOW_MIN = 30
WINDOW_NOTE = "{minutes}分钟内您再发来的文字、照片和位置会自动补充到这张工单；之后可以发“补充 {number} 内容”。"
SUPPLEMENTED = "已补充到工单 {number}，处理人员会收到。{what}"
SUPPLEMENT_SAME = (
    "这件事您已经报过了：工单 {number}（{state}）。有新情况可以直接补充，或回复“催单 {number}”。"
)
SUPPLEMENT_ASK = "请发来要补充到工单 {number} 的文字、照片或位置。"
SUPPLEMENT_NOT_OPEN = (
    "工单 {number} 已经{state}，不能再补充了。如果问题还在，请直接告诉我，我帮您重新报事。"
)
SUPPLEMENT_STILL_WAITING = "请发文字、照片或位置来补充工单 {number}，或回复“取消”。"

NOT_FOUND = "没有找到您的这张工单，请核对工单号。回复“我的工单”看看您的工单。"
BAD_NUMBER = "工单号不对，请写成数字，比如“{example}”。回复“我的工单”看看您的工单。"
NUMBER_MISSING = "请带上工单号，比如“{example}”。您最近的工单：\n{items}"

REBIND_ASK = "您现在绑定的是{old}，要改为{new}吗？回复 1 确认改绑；回复其他内容则保持{old}不变。"
REBIND_AFTER_DRAFT = (
    "您正在报事，小区仍是{old}。想改为{new}的话，请先回复“确认”或“取消”完成这次报事，再扫一次码。"
)
REBIND_DONE = "已改为{new}。以后报事默认就是这个小区。"
REBIND_KEPT = "好的，仍然是{old}。"
ALREADY_BOUND = "您绑定的就是{compound}，不用再扫了。遇到问题直接告诉我。"
