"""Task monitoring (the guide's section 5)."""


# task status check
def check_task_status(task_id):
    from compat.result import AsyncResult
    result = AsyncResult(task_id)
    return {
        "status": result.status,
        "result": result.result,
        "traceback": result.traceback
    }
