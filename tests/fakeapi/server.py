from bot.fakeapi.server import *  # noqa: F403 - moved to the package; kept for old imports
