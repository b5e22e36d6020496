from dataclasses import dataclass

from celery import shared_task


@dataclass
class ConsumableDocument:
    source: str
    original_file: str


@shared_task(bind=True)
def consume_file(self, input_doc, overrides=None):
    self.update_state(state="PROGRESS", meta={"current": 0})
    return f"consumed {input_doc.original_file}"


@shared_task
def train_classifier():
    return "trained"


@shared_task
def bulk_update_documents(document_ids):
    return len(document_ids)
