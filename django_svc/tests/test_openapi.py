import re

from django.test import Client


def test_docs_are_served_without_a_cdn() -> None:
    response = Client().get("/docs")
    assert response.status_code == 200
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", response.content.decode())
    assert urls
    assert all(not url.startswith(("http://", "https://", "//")) for url in urls)
    for url in urls:
        assert Client().get(url).status_code == 200, url
