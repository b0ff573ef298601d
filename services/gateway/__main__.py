import asyncio

from services.gateway.main import serve
from services.runtime.config import load_settings

asyncio.run(serve(load_settings()))
