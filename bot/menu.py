"""The Official Account menu (报事 / 我的工单 / 志愿接单 / 帮助); keys match handlers.router."""

MENU = {
    "button": [
        {"type": "click", "name": "报事", "key": "REPORT"},
        {"type": "click", "name": "我的工单", "key": "MY_TICKETS"},
        {
            "name": "更多",
            "sub_button": [
                {"type": "click", "name": "志愿接单", "key": "VOLUNTEER"},
                {"type": "click", "name": "数据大屏", "key": "DASHBOARD"},
                {"type": "click", "name": "帮助", "key": "HELP"},
            ],
        },
    ]
}
