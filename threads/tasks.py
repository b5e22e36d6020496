"""The public task namespace: every domain task, under its stable name ``threads.tasks.<function>``.

Workers import this module through autodiscovery; views and other code import tasks from here.
The tasks live in ``actors/``, one module per concern.
"""

from actors.alerts import robust_task, send_alert
from actors.counters import batch_update_counters
from actors.emails import send_welcome_email
from actors.events import (
    post_created_event,
    post_liked_event,
    process_large_data,
    publish_user_registered_event,
    user_registered_event,
)
from actors.fact_check import fact_check_content
from actors.images import (
    compress_image,
    generate_thumbnails,
    notify_processing_complete,
    process_image_pipeline,
    update_image_metadata,
    validate_image,
)
from actors.notifications import notify_fact_check_complete, notify_followers, notify_post_author
from actors.recommendations import (
    create_default_follows,
    generate_initial_recommendations,
    generate_recommendations,
    update_recommendations,
    update_user_recommendations,
)
from actors.search import update_search_index
from actors.stats import log_interaction, update_post_stats, update_user_statistics, update_user_stats

__all__ = [
    "batch_update_counters",
    "compress_image",
    "create_default_follows",
    "fact_check_content",
    "generate_initial_recommendations",
    "generate_recommendations",
    "generate_thumbnails",
    "log_interaction",
    "notify_fact_check_complete",
    "notify_followers",
    "notify_post_author",
    "notify_processing_complete",
    "post_created_event",
    "post_liked_event",
    "process_image_pipeline",
    "process_large_data",
    "publish_user_registered_event",
    "robust_task",
    "send_alert",
    "send_welcome_email",
    "update_image_metadata",
    "update_post_stats",
    "update_recommendations",
    "update_search_index",
    "update_user_recommendations",
    "update_user_statistics",
    "update_user_stats",
    "user_registered_event",
    "validate_image",
]
