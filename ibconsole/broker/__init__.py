"""The only package that talks to TWS/Gateway (through ib_insync), as asyncio services."""
