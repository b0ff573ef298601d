import asyncio

from services.portal.main import serve
from services.runtime.config import load_settings

asyncio.run(serve(load_settings()))
