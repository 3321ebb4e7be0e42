from django.urls import path

from booking import review_views

app_name = "online_bookings"
urlpatterns = [
    path("", review_views.review, name="review"),
    path("<int:pk>/", review_views.decide, name="decide"),
]
