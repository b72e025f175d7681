"""A trivial MQTT responder, the baseline of the throughput benchmark: answers every schedule command at once.

python -m bench.echo_proc --port P --prefix X

One aiomqtt client, like the agent's: subscribes `{prefix}/+/+/schedule/set` (QoS 1) and publishes
`{"command_id": ..., "accepted": true}` to the matching `/schedule/result` (QoS 1) from a task per message. No
validation, no device, no state, no status: what a single-process Python MQTT client on this machine can do.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal

from bench._common import mqtt_client


async def serve(port: int, prefix: str) -> None:
    """Answer until SIGTERM."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    tasks: set[asyncio.Task[None]] = set()
    async with mqtt_client(port, f"{prefix}-echo", nodelay=False) as client:

        async def answer(topic: str, payload: bytes) -> None:
            command_id = json.loads(payload).get("command_id")
            body = json.dumps({"command_id": command_id, "accepted": True}).encode()
            await client.publish(topic.removesuffix("/set") + "/result", body, qos=1)

        async def pump() -> None:
            async for message in client.messages:
                payload = message.payload if isinstance(message.payload, bytes) else b"{}"
                task = asyncio.create_task(answer(message.topic.value, payload))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

        await client.subscribe(f"{prefix}/+/+/schedule/set", qos=1)
        await client.publish(f"{prefix}/agent/availability", "online", qos=1, retain=True)
        runner = asyncio.create_task(pump())
        await stop.wait()
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner


def main() -> None:
    """Parse the arguments and serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--prefix", required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.prefix))


if __name__ == "__main__":
    main()
