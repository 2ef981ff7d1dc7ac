"""A small fictional city to play the whole loop with (`sidan seed-demo`)."""

from models import demo_incentives
from models.clock import now
from models.db import database
from models.enums import Level, Role, UnitKind
from models.org import Compound, InviteCode, OrgUnit, User, WorkUnit

CITY = "清河市"
# street → community → grid → [(compound, lat, lng, property company index)]
TREE = {
    "东湖街道": {
        "幸福社区": {
            "幸福一网格": [("幸福里小区", 30.2741, 120.1551, 0), ("丹桂苑", 30.2752, 120.1570, 0)],
            "幸福二网格": [("金桥花园", 30.2760, 120.1532, 0)],
        },
        "和平社区": {
            "和平一网格": [("和平新村", 30.2705, 120.1610, 1)],
            "和平二网格": [("春晖小区", 30.2690, 120.1633, 1), ("梧桐苑", 30.2682, 120.1651, 1)],
        },
    },
    "西山街道": {
        "翠园社区": {
            "翠园一网格": [("翠园小区", 30.2550, 120.1302, 1)],
            "翠园二网格": [("碧水家园", 30.2561, 120.1288, 0)],
        },
        "新村社区": {
            "新村一网格": [("新村北区", 30.2512, 120.1350, 0), ("新村南区", 30.2501, 120.1362, 0)],
            "新村二网格": [("枫林苑", 30.2490, 120.1391, 1), ("阳光水岸", 30.2478, 120.1405, 1)],
        },
    },
}
COMPANIES = ["红管家物业", "安居物业"]
DEPARTMENTS = ["消防救援站", "供电所", "自来水公司", "市场监管所", "综合执法队", "住建局", "派出所"]
DEMO_VOLUNTEERS = [
    ("demo_volunteer_1", "王建国", ["电工", "水电工", "维修"], 30.2745, 120.1558),
    ("demo_volunteer_2", "李秀英", ["助老", "跑腿", "陪诊"], 30.2749, 120.1565),
    ("demo_volunteer_3", "张志强", ["调解", "法律"], 30.2738, 120.1545),
    ("demo_volunteer_4", "刘芳", ["保洁", "园艺"], 30.2756, 120.1540),
    ("demo_volunteer_5", "陈明", ["水管维修", "消防", "电梯维保"], 30.2733, 120.1575),
]
MORE_SKILLS = [["理发"], ["电工"], ["医护", "陪诊"], ["法律"], ["跑腿"], ["调解"], ["维修"]]
SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨"


def seed_demo() -> dict:
    """Build the demo city once; running it again changes nothing."""
    if User.select().where(User.openid == "demo_resident_1").exists():
        return {"created": False}
    with database.atomic():
        return _build()


def _build() -> dict:
    city = OrgUnit.create_child(CITY, Level.CITY, duty_phone="12345")
    companies = [WorkUnit.create(name=n, kind=UnitKind.PROPERTY, org_unit=city) for n in COMPANIES]
    for name in DEPARTMENTS:
        WorkUnit.create(name=name, kind=UnitKind.DEPARTMENT, org_unit=city)
    _staff("demo_supervisor_city", "市物业管理服务中心", Role.SUPERVISOR, city)
    _staff("city_dispatcher", "市中心调度", Role.DISPATCHER, city)
    compounds, grids, n = [], {}, 0
    for street_name, communities in TREE.items():
        street = OrgUnit.create_child(street_name, Level.STREET, city)
        _staff(f"street_{street.id}_dispatcher", f"{street_name}调度", Role.DISPATCHER, street)
        _staff(f"street_{street.id}_supervisor", f"{street_name}书记", Role.SUPERVISOR, street)
        for community_name, grid_map in communities.items():
            community = OrgUnit.create_child(community_name, Level.COMMUNITY, street)
            first = community_name == "幸福社区"
            _staff(
                "demo_dispatcher_1" if first else f"community_{community.id}_dispatcher",
                f"{community_name}社工", Role.DISPATCHER, community,
            )  # fmt: skip
            _staff(
                "demo_supervisor_1" if first else f"community_{community.id}_supervisor",
                f"{community_name}书记", Role.SUPERVISOR, community,
            )  # fmt: skip
            for grid_name, compound_rows in grid_map.items():
                grid = OrgUnit.create_child(grid_name, Level.GRID, community)
                grids[grid_name] = grid
                if not first:
                    _staff(f"grid_{grid.id}_worker", f"{grid_name}网格员", Role.DISPATCHER, grid)
                for compound_name, lat, lng, company in compound_rows:
                    n += 1
                    compounds.append(
                        Compound.create(
                            name=compound_name,
                            grid=grid,
                            property_company=companies[company],
                            lat=lat,
                            lng=lng,
                            address=f"{street_name}{compound_name}",
                            scene=f"compound_{n}",
                        )  # fmt: skip
                    )
    home = {c.name: c for c in compounds}
    for i in range(1, 6):
        compound = home["幸福里小区"] if i <= 3 else home["丹桂苑"]
        User.create(
            openid=f"demo_resident_{i}", name=f"{SURNAMES[i]}阿姨" if i % 2 else f"{SURNAMES[i]}先生",
            phone=f"1380000000{i}", role=Role.RESIDENT, compound=compound,
            household=f"{compound.id}-{i}-{i}01", lat=compound.lat, lng=compound.lng,
        )  # fmt: skip
    happy = OrgUnit.get(OrgUnit.name == "幸福社区")
    for openid, name, skills, lat, lng in DEMO_VOLUNTEERS:
        User.create(
            openid=openid, name=name, role=Role.VOLUNTEER, org_unit=happy, skills=skills,
            is_party_member=True, lat=lat, lng=lng, compound=home["金桥花园"],
            household=f"{home['金桥花园'].id}-{openid}",
        )  # fmt: skip
    for i, compound in enumerate(compounds[3:] * 2):
        community = compound.grid.parent
        User.create(
            openid=f"volunteer_{i + 6}", name=f"{SURNAMES[i % len(SURNAMES)]}志愿者",
            role=Role.VOLUNTEER, org_unit=community, skills=MORE_SKILLS[i % len(MORE_SKILLS)],
            is_party_member=i % 3 != 0, lat=compound.lat + 0.0005 * (i % 4), lng=compound.lng,
            compound=compound, household=f"{compound.id}-v{i}",
        )  # fmt: skip
    User.create(
        openid="demo_worker_1", name="赵师傅", role=Role.WORKER, work_unit=companies[0],
        org_unit=happy,
    )  # fmt: skip
    InviteCode.create(
        code="VOL-DEMO", role=Role.VOLUNTEER, org_unit=happy, created_at=now(), multi_use=True
    )  # README: "makes any new user a volunteer"
    demo_incentives.seed(happy)
    _owner_roll(home["幸福里小区"])
    return {
        "created": True,
        "org_units": OrgUnit.select().count(),
        "compounds": len(compounds),
        "users": User.select().count(),
    }


def _owner_roll(compound: Compound) -> None:
    """幸福里小区's owner roll: 4 flats; demo residents 1–3 bound, resident 1 on the 业委会."""
    from models.owners import seed_demo_roll

    seed_demo_roll(compound, [User.get(User.openid == f"demo_resident_{i}") for i in (1, 2, 3)])


def _staff(openid: str, name: str, role: Role, unit: OrgUnit) -> User:
    return User.create(openid=openid, name=name, role=role, org_unit=unit)
