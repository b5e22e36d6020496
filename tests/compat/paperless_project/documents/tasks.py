import logging
import os

from compat import shared_task

logger = logging.getLogger("paperless.consumer")


class ConsumerError(Exception):
    pass


@shared_task(name="documents.tasks.consume_file")
def consume_file(path):
    logger.info("Consuming %s", os.path.basename(path))
    if not os.path.exists(path):
        raise ConsumerError(f"Cannot consume {os.path.basename(path)}: file not found")
    with open(path) as source:
        words = len(source.read().split())
    return f"Success. {os.path.basename(path)} has {words} words"
