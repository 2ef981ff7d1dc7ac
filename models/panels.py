"""The dashboard's panels by name: one function each, over the figures of models.digest."""

from models import figures, figures_people

PANELS = {
    "rates": figures.rates,
    "status": figures.status,
    "daily": figures.daily_by_category,
    "hotspots": figures.hotspots,
    "ranking": figures.ranking,
    "scorecards": figures_people.scorecards,
    "volunteers": figures_people.volunteer_points,
    "property": figures_people.property_companies,
    "theme": figures.monthly_theme,
}
