from django.urls import path

from notes import views

app_name = "notes"
urlpatterns = [
    path("new/<int:patient_id>/", views.note_new, name="new"),
    path("<int:pk>/", views.note_edit, name="edit"),
    path("<int:pk>/addendum/", views.note_addendum, name="addendum"),
    path("<int:pk>/letter/", views.note_letter, name="letter"),
    path("<int:pk>/autosave/", views.note_autosave, name="autosave"),
    path("<int:pk>/ai-draft/", views.note_ai_draft, name="ai_draft"),
    path("<int:pk>/ai-draft/discard/", views.note_ai_discard, name="ai_discard"),
    path("ai-jobs/<int:pk>/", views.note_ai_job, name="ai_job"),
]
