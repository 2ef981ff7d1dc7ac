"""What the bot says about points, the shop, wishes, the service menu and property lists."""

MY_POINTS = (
    "您共有 {balance} 积分（累计获得 {earned}，已兑换 {spent}），完成 {count} 单。"
    "感谢您的付出！回复“积分商城”看看能换什么。"
)

SHOP_EMPTY = "附近的信用超市暂时没有可兑换的商品。有新商品上架会告诉您。"
SHOP = "积分商城（您现有 {balance} 积分）：\n{items}\n回复“兑换 编号”兑换，比如“兑换 {first}”。"
SHOP_LINE = "{id}. {name}（{kind}）· {price}积分 · {stock} · {shop}"
REDEEMED = (
    "兑换成功！“{item}”，兑换码：{code}\n"
    "请在{days}天内到{shop}{address}出示兑换码领取，工作人员核销后即可拿走"
    "（过期自动取消，积分退回）。剩余 {balance} 积分。"
    "回复“我的兑换”查看，不想要了回复“取消兑换 {id}”退回积分。"
)
MY_REDEMPTIONS_EMPTY = "您还没有兑换过。回复“积分商城”看看能换什么。"
MY_REDEMPTIONS = "您的兑换：\n{items}\n未领取的可以回复“取消兑换 编号”退回积分。"
REDEMPTION_LINE = "{id}. {item} · {points}积分 · {state}"
REDEMPTION_STATES = {"issued": "待领取，兑换码 {code}", "confirmed": "已领取", "refunded": "已取消"}
REFUNDED = "已取消兑换“{item}”，{points} 积分已退回，现有 {balance} 积分。"
CONFIRMED = "已核销：“{item}”（兑换码 {code}），兑换人 {who}。请把物品或服务交给对方。"
CONFIRM_HINT = "请在“核销”后写兑换码，比如“核销 K7Q2M9AB”。"

WISH_HINT = "请说说您的心愿，比如“微心愿 想请人帮忙理个发，我腿脚不方便”。"
WISH_POSTED = (
    "您的微心愿已收到，编号 {number}。网格员审核后会发布到心愿墙，"
    "有志愿者认领和完成时我都会告诉您。想看进度回复“查询 {number}”。"
)
WISH_FOR_HINT = (
    "代办心愿请这样写：代办心愿 称呼 小区楼号房号 心愿内容（可加电话），比如\n"
    "“代办心愿 张奶奶 幸福里小区3号楼101 想请人陪同去医院复查 13800000000”"
)
WISH_FOR_POSTED = (
    "已为{name}发布微心愿 {number}，附近合适的志愿者已收到。"
    "有人认领和完成时会通知您；完成后请问问老人，再代为回复“评价 {number} 满意”。"
)
WALL_EMPTY = "心愿墙上暂时没有待认领的心愿，辛苦了！有新心愿会推送给您。"
WALL = "心愿墙（附近待认领的微心愿）：\n{items}\n回复“认领心愿 #编号”认领，先到先得。"
CLAIMED = (
    "认领成功：{brief}\n心愿：{text}\n"
    "实现后请回复“办结 {number}”，再发一张照片；有进展可回复“进度 {number} 内容”。"
)
REVIEW_EMPTY = "辖区内没有待审核的微心愿。"
REVIEW = (
    "待审核的微心愿（{n}个）：\n{items}\n"
    "合适的回复“派单 #编号 给 志愿者”发布到心愿墙，不合适回复“关闭 #编号 原因”。"
)

OFFER_HINT = "请写上服务项目和时间，比如“我的服务 理发 周六上午”。"
OFFERED = (
    "已登记到服务菜单：{id}. {title}（{times}）。有居民预约时我会通知您。回复“我的服务”查看全部。"
)
MY_OFFERS_EMPTY = "您还没有登记服务。可以这样登记：“我的服务 理发 周六上午”。"
MY_OFFERS = "您登记的服务：\n{items}\n停掉某项回复“停止服务 编号”。"
WITHDRAWN = "已停止服务：{title}。需要时可以再登记。"
MENU_EMPTY = "附近暂时还没有志愿者登记便民服务。有需要也可以直接告诉我，我帮您报事。"
MENU = (
    "服务菜单（志愿者的便民服务）：\n{items}\n"
    "回复“预约 编号”预约，也可以加一句留言，比如“预约 {first} 下午三点后在家”。"
)
BOOKED = (
    "已为您预约{who}的“{title}”，预约单号 {number}。志愿者确认后会通知您；"
    "服务完成后回复“满意 / 基本满意 / 不满意”评价。"
)
BOOK_HINT = "请写上服务编号，比如“预约 3”。回复“服务菜单”看看有哪些服务。"

FLAGS_EMPTY = "辖区内没有待复核的积分。"
FLAGS = (
    "待复核的积分（同一对志愿者和居民反复互评）：\n{items}\n"
    "回复“复核 编号 通过”发放，或“复核 编号 不通过 原因”。"
)
FLAG_LINE = (
    "{id}. 工单 {number} · 志愿者{volunteer} · 居民{resident} · 近期互评{count}次 · {points}积分"
)
REVIEW_HINT = "请这样写：“复核 3 通过”或“复核 3 不通过 互相刷单”。"
REVIEWED = "好的，积分记录 {id} {result}。"

VETO_HINT = "请这样写：一票否决 物业公司全称 小区全称 理由，比如“一票否决 红管家物业 幸福里小区 消防通道长期堵塞拒不整改”。"
VETOED = "已记录一票否决：{company}（{compound}），理由：{reason}。本季度（{quarter}）它不能上红榜，将列入黑名单公示。"
