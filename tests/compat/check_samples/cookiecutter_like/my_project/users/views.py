from .tasks import get_users_count


def users_count(request):
    result = get_users_count.delay()
    return {"task": result.id}
