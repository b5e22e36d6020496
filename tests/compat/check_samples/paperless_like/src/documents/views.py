from paperless.celery import app as celery_app

from documents.models import Document
from documents.tasks import ConsumableDocument, bulk_update_documents, consume_file


def post_document(request):
    input_doc = ConsumableDocument(source="api", original_file=request.FILES["document"].name)
    async_task = consume_file.delay(input_doc, None)
    return {"task_id": async_task.id}


def bulk_edit(request):
    documents = Document.objects.filter(id__in=request.data["documents"])
    bulk_update_documents.delay(document_ids=[doc.id for doc in documents])
    return {"result": "OK"}


def system_status(request):
    try:
        celery_ping = celery_app.control.inspect().ping()
    except Exception:
        celery_ping = None
    return {"celery_status": "OK" if celery_ping else "ERROR"}
