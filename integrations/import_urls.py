from django.urls import path

from integrations import import_views

app_name = "setup_imports"
urlpatterns = [
    path("", import_views.import_index, name="index"),
    path("start/", import_views.import_start, name="start"),
    path("<int:pk>/", import_views.import_detail, name="detail"),
    path("<int:pk>/report.json", import_views.import_report, {"fmt": "json"}, name="report_json"),
    path("<int:pk>/report.csv", import_views.import_report, {"fmt": "csv"}, name="report_csv"),
]
