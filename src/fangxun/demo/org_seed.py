"""The demo district's organisation: units, ~45 people and a login for every role.

All names, phone numbers and e-mail addresses are fictitious. Phones use the ``138-0000-xxxx``
range and e-mail addresses the reserved ``example.com`` domain (RFC 2606). The logins and their
passwords (:data:`DEMO_LOGINS`) are for the demo environment only; :func:`load_demo` refuses to run
when ``settings.environment`` is ``production``.

Everything goes through the :mod:`fangxun.org` services, so each row gets an audit entry whose actor
is :data:`DEMO_ACTOR` (``system/demo``). Loading is idempotent: a unit, person or login that exists
already (same code, same name in the same unit, same username) is left untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from fangxun.config import Settings
from fangxun.demo.actor import DEMO_ACTOR
from fangxun.demo.drainage_seed import DrainageSeedSummary, seed_drainage
from fangxun.demo.field_seed import FieldSeedSummary, seed_field
from fangxun.demo.files import TerrainFiles, ensure_terrain_files
from fangxun.demo.hazards_seed import HazardSeedSummary, seed_hazards
from fangxun.demo.monitoring_seed import MonitoringSeedSummary, seed_monitoring
from fangxun.demo.notify_seed import NotifySeedSummary, seed_contacts
from fangxun.demo.operations_seed import OperationsSeedSummary, seed_operations
from fangxun.demo.response_seed import ResponseSeedSummary, seed_response
from fangxun.errors import ConfigError
from fangxun.org import service as org
from fangxun.org.models import Person, Role, Unit, UnitKind
from fangxun.org.schemas import PersonCreate, UnitCreate, UserCreate

#: The author of every row the demo loader writes, as the audit log names it.
#: Domain of the fictitious e-mail addresses (reserved for documentation, RFC 2606).
EMAIL_DOMAIN = "gxq-demo.example.com"
#: The district's unit code.
DISTRICT_CODE = "GXQ"


@dataclass(frozen=True)
class DemoUnit:
    """A unit of the demo organisation; ``parent`` is a unit code (None for the district)."""

    code: str
    name_zh: str
    name_en: str
    kind: UnitKind
    parent: str | None


@dataclass(frozen=True)
class DemoPerson:
    """A fictitious person: ``pinyin`` builds the e-mail address; ``phone`` is 138-0000-xxxx."""

    unit: str
    name: str
    pinyin: str
    post: str
    phone: str


@dataclass(frozen=True)
class DemoLogin:
    """A demo login, linked to a person (by unit code and name) and, for ``unit``, its unit."""

    username: str
    password: str
    role: Role
    unit: str
    person: str
    purpose_zh: str


_DISTRICT, _OFFICE, _DEPT = UnitKind.district, UnitKind.street_office, UnitKind.department

UNITS: tuple[DemoUnit, ...] = (
    DemoUnit(DISTRICT_CODE, "郑州高新技术产业开发区", "Zhengzhou High-tech Zone", _DISTRICT, None),
    DemoUnit("WUTONG", "梧桐街道办事处", "Wutong Subdistrict Office", _OFFICE, DISTRICT_CODE),
    DemoUnit("GOUZHAO", "沟赵办事处", "Gouzhao Office", _OFFICE, DISTRICT_CODE),
    DemoUnit("FENGYANG", "枫杨街道办事处", "Fengyang Subdistrict Office", _OFFICE, DISTRICT_CODE),
    DemoUnit("SHIFO", "石佛办事处", "Shifo Office", _OFFICE, DISTRICT_CODE),
    DemoUnit("SHUANGQIAO", "双桥办事处", "Shuangqiao Office", _OFFICE, DISTRICT_CODE),
    DemoUnit("CGJ", "城市管理局", "Urban Management Bureau", _DEPT, DISTRICT_CODE),
    DemoUnit("NYNCJ", "农业农村局", "Agriculture and Rural Affairs Bureau", _DEPT, DISTRICT_CODE),
    DemoUnit("HBAJJ", "环保安监局", "Environment and Work Safety Bureau", _DEPT, DISTRICT_CODE),
    DemoUnit("SWJ", "水务局", "Water Affairs Bureau", _DEPT, DISTRICT_CODE),
    DemoUnit("YJGLJ", "应急管理局", "Emergency Management Bureau", _DEPT, DISTRICT_CODE),
    DemoUnit("GAJJ", "公安交警大队", "Traffic Police Brigade", _DEPT, DISTRICT_CODE),
)


def _p(unit: str, name: str, pinyin: str, post: str, n: int) -> DemoPerson:
    return DemoPerson(unit, name, pinyin, post, f"138-0000-{n:04d}")


# The district's flood-control office (防汛办) sits in the district unit itself.
PEOPLE: tuple[DemoPerson, ...] = (
    _p("GXQ", "陈志远", "chen.zhiyuan", "信息中心工程师", 101),
    _p("GXQ", "刘建国", "liu.jianguo", "防汛办主任", 102),
    _p("GXQ", "赵丽华", "zhao.lihua", "防汛办副主任", 103),
    _p("GXQ", "吴磊", "wu.lei", "带班领导", 104),
    _p("GXQ", "孙浩", "sun.hao", "值班员", 105),
    _p("GXQ", "周敏", "zhou.min", "值班员", 106),
    _p("GXQ", "郑雅琴", "zheng.yaqin", "联络员", 107),
    _p("WUTONG", "王振华", "wang.zhenhua", "主任", 201),
    _p("WUTONG", "李秀英", "li.xiuying", "副主任", 202),
    _p("WUTONG", "张伟", "zhang.wei", "城建科科长", 203),
    _p("WUTONG", "杨帆", "yang.fan", "值班员", 204),
    _p("WUTONG", "马俊杰", "ma.junjie", "巡查员", 205),
    _p("GOUZHAO", "黄志强", "huang.zhiqiang", "主任", 301),
    _p("GOUZHAO", "何静", "he.jing", "副主任", 302),
    _p("GOUZHAO", "郭鹏", "guo.peng", "城建科科长", 303),
    _p("GOUZHAO", "林晓燕", "lin.xiaoyan", "值班员", 304),
    _p("GOUZHAO", "罗涛", "luo.tao", "巡查员", 305),
    _p("FENGYANG", "高红梅", "gao.hongmei", "主任", 401),
    _p("FENGYANG", "宋明", "song.ming", "副主任", 402),
    _p("FENGYANG", "韩东", "han.dong", "城建科科长", 403),
    _p("FENGYANG", "冯婷", "feng.ting", "值班员", 404),
    _p("FENGYANG", "唐亮", "tang.liang", "巡查员", 405),
    _p("SHIFO", "许国庆", "xu.guoqing", "主任", 501),
    _p("SHIFO", "邓丽", "deng.li", "副主任", 502),
    _p("SHIFO", "曹磊", "cao.lei", "城建科科长", 503),
    _p("SHIFO", "彭晨", "peng.chen", "值班员", 504),
    _p("SHIFO", "曾勇", "zeng.yong", "巡查员", 505),
    _p("SHUANGQIAO", "谢文斌", "xie.wenbin", "主任", 601),
    _p("SHUANGQIAO", "蒋芳", "jiang.fang", "副主任", 602),
    _p("SHUANGQIAO", "袁超", "yuan.chao", "城建科科长", 603),
    _p("SHUANGQIAO", "潘雪", "pan.xue", "值班员", 604),
    _p("SHUANGQIAO", "杜强", "du.qiang", "巡查员", 605),
    _p("CGJ", "田卫东", "tian.weidong", "局长", 701),
    _p("CGJ", "董燕", "dong.yan", "市政科科长", 702),
    _p("NYNCJ", "范永刚", "fan.yonggang", "副局长", 711),
    _p("NYNCJ", "石慧", "shi.hui", "水利科科长", 712),
    _p("HBAJJ", "姚建军", "yao.jianjun", "副局长", 721),
    _p("HBAJJ", "廖洁", "liao.jie", "安监科科长", 722),
    _p("SWJ", "钟海涛", "zhong.haitao", "局长", 731),
    _p("SWJ", "汪琳", "wang.lin", "排水科科长", 732),
    _p("SWJ", "程立新", "cheng.lixin", "泵站管理员", 733),
    _p("YJGLJ", "魏勇", "wei.yong", "局长", 741),
    _p("YJGLJ", "叶青", "ye.qing", "应急救援科科长", 742),
    _p("GAJJ", "薛峰", "xue.feng", "大队长", 751),
    _p("GAJJ", "贾敏", "jia.min", "中队长", 752),
)


def _login(username: str, role: Role, unit: str, person: str, purpose_zh: str) -> DemoLogin:
    # One pattern for every demo password, so the README and the CLI can state it in a line.
    return DemoLogin(username, f"{username}-demo", role, unit, person, purpose_zh)


DEMO_LOGINS: tuple[DemoLogin, ...] = (
    _login("admin", Role.admin, "GXQ", "陈志远", "系统管理员"),
    _login("district", Role.district, "GXQ", "刘建国", "区防汛办"),
    _login("duty", Role.duty, "GXQ", "孙浩", "值班员"),
    _login("duty2", Role.duty, "GXQ", "周敏", "值班员"),
    _login("inspector", Role.inspector, "WUTONG", "马俊杰", "巡查员"),
    _login("viewer", Role.viewer, "GXQ", "郑雅琴", "只读"),
    _login("wutong", Role.unit, "WUTONG", "杨帆", "梧桐街道办事处"),
    _login("gouzhao", Role.unit, "GOUZHAO", "林晓燕", "沟赵办事处"),
    _login("fengyang", Role.unit, "FENGYANG", "冯婷", "枫杨街道办事处"),
    _login("shifo", Role.unit, "SHIFO", "彭晨", "石佛办事处"),
    _login("shuangqiao", Role.unit, "SHUANGQIAO", "潘雪", "双桥办事处"),
    _login("chengguan", Role.unit, "CGJ", "董燕", "城市管理局"),
    _login("nongye", Role.unit, "NYNCJ", "石慧", "农业农村局"),
    _login("huanbao", Role.unit, "HBAJJ", "廖洁", "环保安监局"),
    _login("shuiwu", Role.unit, "SWJ", "汪琳", "水务局"),
    _login("yingji", Role.unit, "YJGLJ", "叶青", "应急管理局"),
    _login("jiaojing", Role.unit, "GAJJ", "贾敏", "公安交警大队"),
)

#: The login `fangxun demo` tells a visitor to use first.
PRIMARY_LOGIN = DEMO_LOGINS[1]


@dataclass
class DemoSummary:
    """What :func:`load_demo` did: rows created and found, terrain files written, the logins."""

    units_created: int = 0
    units_existing: int = 0
    people_created: int = 0
    people_existing: int = 0
    users_created: int = 0
    users_existing: int = 0
    terrain_files: TerrainFiles | None = None
    hazards: HazardSeedSummary | None = None
    operations: OperationsSeedSummary | None = None
    monitoring: MonitoringSeedSummary | None = None
    response: ResponseSeedSummary | None = None
    contacts: NotifySeedSummary | None = None
    drainage: DrainageSeedSummary | None = None
    patrols: FieldSeedSummary | None = None
    logins: tuple[DemoLogin, ...] = field(default=DEMO_LOGINS)

    @property
    def created(self) -> int:
        """Rows created by this call (0 on a second run)."""
        return self.units_created + self.people_created + self.users_created


def _seed_units(session: Session, summary: DemoSummary) -> dict[str, Unit]:
    units: dict[str, Unit] = {}
    for spec in UNITS:
        unit = session.scalar(select(Unit).where(Unit.code == spec.code))
        if unit is None:
            parent_id = units[spec.parent].id if spec.parent is not None else None
            unit = org.create_unit(
                session=session,
                unit_in=UnitCreate(
                    code=spec.code,
                    name_zh=spec.name_zh,
                    name_en=spec.name_en,
                    kind=spec.kind,
                    parent_id=parent_id,
                ),
                actor=DEMO_ACTOR,
            )
            summary.units_created += 1
        else:
            summary.units_existing += 1
        units[spec.code] = unit
    return units


def _seed_people(
    session: Session, units: dict[str, Unit], summary: DemoSummary
) -> dict[tuple[str, str], Person]:
    people: dict[tuple[str, str], Person] = {}
    for spec in PEOPLE:
        unit = units[spec.unit]
        person = session.scalar(
            select(Person)
            .where(Person.unit_id == unit.id, Person.name == spec.name)
            .order_by(Person.id)
            .limit(1)
        )
        if person is None:
            person = org.create_person(
                session=session,
                person_in=PersonCreate(
                    name=spec.name,
                    phone=spec.phone,
                    email=f"{spec.pinyin}@{EMAIL_DOMAIN}",
                    unit_id=unit.id,
                    post=spec.post,
                ),
                actor=DEMO_ACTOR,
            )
            summary.people_created += 1
        else:
            summary.people_existing += 1
        people[(spec.unit, spec.name)] = person
    return people


def _seed_users(
    session: Session,
    units: dict[str, Unit],
    people: dict[tuple[str, str], Person],
    summary: DemoSummary,
) -> None:
    for spec in DEMO_LOGINS:
        if org.get_user_by_username(session=session, username=spec.username) is not None:
            summary.users_existing += 1
            continue
        org.create_user(
            session=session,
            user_in=UserCreate(
                username=spec.username,
                password=spec.password,
                role=spec.role,
                unit_id=units[spec.unit].id,
                person_id=people[(spec.unit, spec.person)].id,
            ),
            actor=DEMO_ACTOR,
        )
        summary.users_created += 1


def refuse_production(settings: Settings) -> None:
    """Raise :class:`ConfigError` in production (no published demo passwords there)."""
    if settings.environment == "production":
        raise ConfigError(
            "FANGXUN_ENVIRONMENT=production: the demo district (with its published passwords) "
            "is never loaded into a production database"
        )


def load_demo(
    *,
    session: Session,
    settings: Settings,
    write_terrain: bool = True,
    drainage: bool = False,
) -> DemoSummary:
    """Load the demo district into the database and write the terrain files that are missing.

    With ``drainage`` (what ``fangxun demo`` does) the demo drainage network is imported and
    linked to the pump stations and river gauges (:mod:`fangxun.demo.drainage_seed`): the
    forecasts then run coupled with it; without it they use the catchment sink.

    Idempotent: a second call creates nothing. Never commits (the caller's scope does). Refuses a
    production environment, where the well-known demo passwords must never exist.
    """
    refuse_production(settings)
    summary = DemoSummary()
    units = _seed_units(session, summary)
    people = _seed_people(session, units, summary)
    _seed_users(session, units, people, summary)
    session.flush()
    if write_terrain:
        summary.terrain_files = ensure_terrain_files(settings.data_dir)
    summary.hazards = seed_hazards(session=session)
    summary.operations = seed_operations(session=session)
    summary.monitoring = seed_monitoring(session=session)
    summary.response = seed_response(session=session)
    summary.contacts = seed_contacts(session=session)
    if drainage:
        summary.drainage = seed_drainage(session=session, settings=settings)
    summary.patrols = seed_field(session=session)
    return summary
