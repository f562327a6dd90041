from tests.conftest import ADMIN_ID


async def test_admin_start_and_new_and_log(bot_env):
    admin = bot_env.server.user(ADMIN_ID, "小李", language_code="en")
    await admin.send("/start")
    m = await admin.expect_message()
    assert "Welcome" in m.text
    await admin.send("/new 王芳 #班干部 sid=2025001 major=CS")
    m = await admin.expect_message()
    assert "#1 王芳" in m.text
    await admin.send("/log wf 挂科 <3 门 & a<b 😀 #tutoring via=face trust=4 next=3d")
    m = await admin.expect_message()
    print(m.text)
    await admin.send("/map 王芳")
    m = await admin.expect_message()
    print(m.text)
    assert "挂科 <3 门 & a<b 😀" in m.text
