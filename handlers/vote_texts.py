"""What the bot says about owners' votes and the 议事会: short, polite, with the next step."""

NOT_BOUND = (
    "您还没有绑定房屋，暂时不能参加业主表决。请发送“绑定 房屋码”（房屋码在业主名册通知单上），"
    "或带上房产证到社区登记。"
)
NONE_OPEN = "您的小区现在没有进行中的表决。回复“表决结果”可以看已经结束的表决。"
WHICH_VOTE = "现在有这几项表决，请回复编号选择：\n{items}"
PICK_NUMBER = "请回复1到{n}之间的编号，回复“取消”可以退出。"
PAPER = "【{number}】{question}\n{options}\n事项类型：{kind}；截止：{closes}"
PICK_OPTION = "请回复选项编号。"
ALREADY_CHANGE = "您的房屋已经投过票了。如需改票，请回复新的选项编号，再发送当时的回执码确认。"
ALREADY_FINAL = "您的房屋已经在表决 {number} 中投过票了，这次表决投出后不能修改。"
CHANGE_WHICH = "您有几项表决在进行，请写明编号，比如“改票 V3”。"
CONFIRM = "您选择的是：{option}。回复“确认”投出这一票（{number}），回复“取消”放弃。"
CONFIRM_HINT = "请回复“确认”投票，或回复其他选项编号重新选择，回复“取消”退出。"
CAST = (
    "投票成功（{number}）。请保存您的回执码：\n{receipts}\n"
    "结果在截止后公布；届时回复“核对 回执码”，可以确认您的选票被如实计入。"
    "回执码只显示这一次，工作人员也看不到您投了什么。"
)
ASK_RECEIPT = "改为：{option}。请发送这户的回执码确认改票（比如 K7Q2-M9XD-3FPA）。"
CHANGED = "改票成功（{number}，{household}）：现在是“{option}”。回执码不变。"
BOUND = "绑定成功：{compound} {label}（专有面积 {area}㎡）。有业主表决时会通知您，回复“投票”参加。"
RECEIPT_UNKNOWN = "没有找到这个回执码对应的选票，请核对后再试。"
RECEIPT_PENDING = "您的选票已经收到（{number}），表决还没有截止，结果截止后公布。"
RECEIPT_COUNTED = (
    "您的选票（{number}）已计入：“{option}”。\n公示哈希：{hash}\n"
    "公示名单里能找到您回执码的哈希，任何人都可以用名单重新算出这个哈希。"
)
NO_RESULTS = "还没有已经结束的表决。"
STATUS = {"scheduled": "未开始", "open": "进行中", "closed": "已截止"}
PROGRESS = (
    "【{number}】{question}\n状态：{status}；已投票 {households} 户 / 名册 {roll} 户。\n"
    "（截止前不显示各选项票数，谁投了什么任何人都看不到。）"
)
OPEN_FORMAT = (
    "格式：发起投票 小区｜问题｜选项1/选项2｜时长（7天、3小时）｜一般或重大\n"
    "比如：发起投票 幸福里小区｜是否同意选聘安居物业？｜同意/不同意/弃权｜7｜一般"
)
OPENED = "表决 {number} 已发起：{compound}，名册 {households} 户，已通知已绑定的业主。"
NO_COMPOUND = "请先扫描小区的民情二维码或绑定房屋，再查看议事会的决定。"
NO_DECISIONS = "{compound}的议事会还没有公布决定。"
DECISIONS = "{compound}议事会最近的决定：\n{items}"
PROPOSE_FORMAT = "请在“提议”后面写上议题，比如：提议 小区东门加装充电桩"
PROPOSED = "已把您的议题列入{compound}{month}议事会，会后可以回复“议事会”查看决定。"
