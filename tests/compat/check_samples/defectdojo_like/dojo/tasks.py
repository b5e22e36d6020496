from celery.utils.log import get_task_logger
from django.shortcuts import get_object_or_404

from dojo.celery import app
from dojo.models import Finding, Test

logger = get_task_logger(__name__)


@app.task(ignore_result=False)
def push_finding_to_jira(finding, *args, **kwargs):
    logger.info("pushing %s", finding)
    return finding.id


@app.task
def update_test_metadata(test, product):
    return test.id


def finding_saved(request, finding_id):
    finding = Finding.objects.get(id=finding_id)
    push_finding_to_jira.apply_async(args=[finding], countdown=10)
    test = get_object_or_404(Test, pk=request.POST["test"])
    update_test_metadata.delay(test, request.user)
    update_test_metadata.delay(test.id, request.user.id)  # compat-check: ignore
    return finding


def bulk_push(request):
    findings = Finding.objects.filter(test=request.POST["test"])
    for finding in findings:
        push_finding_to_jira.delay(finding.id)
    push_finding_to_jira.delay(findings)
