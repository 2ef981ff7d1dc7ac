"""Demo rows for incentives: 幸福社区's points shop with a shopkeeper, and two menu lines."""

from models import shop
from models.clock import now
from models.enums import Role
from models.org import OrgUnit, User
from models.wishes import ServiceOffer, category_for

SHOP_NAME = "幸福社区信用超市"
ITEMS = [
    ("洗衣皂两块", "goods", 10, 20),
    ("理发券（社区理发室）", "service", 15, 10),
    ("洗衣液一瓶", "goods", 20, 10),
    ("大米5斤", "goods", 30, 5),
]
OFFERS = [
    ("demo_volunteer_2", "陪诊", "陪诊", "工作日上午"),
    ("demo_volunteer_3", "法律咨询", "法律", "周六上午"),
]


def seed(community: OrgUnit) -> None:
    """Called by models.demo inside its transaction."""
    for name, kind, price, stock in ITEMS:
        shop.add_item(SHOP_NAME, name, price, stock, unit=community, kind=kind)
    shop_row = shop.Shop.get(shop.Shop.name == SHOP_NAME)
    shop_row.address = "幸福社区党群服务中心一楼"
    shop_row.save()
    keeper = User.create(openid="shopkeeper_1", name="周店长", role=Role.RESIDENT, created_at=now())
    shop.add_staff(SHOP_NAME, keeper)
    for openid, title, skill, times in OFFERS:
        volunteer = User.get(User.openid == openid)
        ServiceOffer.create(
            volunteer=volunteer, title=title, skill=skill, category=category_for(skill),
            times=times, org_unit=volunteer.org_unit_id, created_at=now(),
        )  # fmt: skip
