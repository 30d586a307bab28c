"""The embedded Celery broker: kombu's filesystem transport, with messages that appear whole.

kombu's filesystem transport creates a message's file under its final name and then
writes it; a consumer listing the folder in between takes the empty file, fails to decode
it and stops the worker (seen as `JSONDecodeError: Expecting value` in make run's worker).
Here a message is written under a name consumers skip and renamed into place, which on one
filesystem is atomic: a consumer sees no file or the whole file.

Importing this module registers the transport under the URL scheme SCHEME (kombu finds
transports by URL scheme), so the broker URL alone chooses it: a connection made with
another URL (Redis) is not bent onto files by a transport setting.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    # kombu itself names the argument `message` in AbstractChannel and `payload` in filesystem.Channel.
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # Consumers take names of the form "<stamp>.<queue>.msg"; a leading dot is none of them.
        partial = os.path.join(self.data_folder_out, f".partial-{uuid.uuid4()}")
        try:
            with open(partial, "wb") as file:
                file.write(dumps(payload).encode())
            os.replace(partial, final)
        except OSError as error:
            raise ChannelError(f"Cannot add file {final!r} to directory") from error


class Transport(filesystem.Transport):
    Channel = Channel


SCHEME = "statusdashfiles"
TRANSPORT_ALIASES[SCHEME] = f"{__name__}:Transport"
