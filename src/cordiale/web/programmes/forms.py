"""Forms: applications with PIs and a size-limited PDF, reviews, decisions, money, mobility, sign-up."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from cordiale.web.programmes.models import (
    Application,
    Call,
    Criterion,
    Decision,
    Exchange,
    Grant,
    LedgerEntry,
    PanelRecommendation,
    Partner,
    Person,
    ReferenceRate,
    RoleKind,
)
from cordiale.web.programmes.models.people import validate_orcid


def validate_pdf(upload: UploadedFile) -> None:
    limit = settings.CORDIALE_PDF_MAX_MB
    name = upload.name or ""
    if not name.lower().endswith(".pdf"):
        raise forms.ValidationError(_("%(name)s: only PDF files are accepted.") % {"name": name})
    if upload.size is not None and upload.size > limit * 1024 * 1024:
        raise forms.ValidationError(
            _("%(name)s: %(size).1f MB is over the %(limit)d MB limit.")
            % {"name": name, "size": upload.size / 1024 / 1024, "limit": limit}
        )
    head = upload.read(5)
    upload.seek(0)
    if head != b"%PDF-":
        raise forms.ValidationError(_("%(name)s is not a PDF file.") % {"name": name})


class ApplicationForm(forms.ModelForm[Application]):
    """The application with one PI field per partner of the call."""

    class Meta:
        model = Application
        fields = ["title", "summary", "requested_amount", "pdf"]
        widgets = {"pdf": forms.ClearableFileInput(attrs={"accept": "application/pdf"})}

    def __init__(self, *args: Any, call: Call, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.call = call
        self.pi_fields: list[tuple[str, Partner]] = []
        current = (
            {}
            if self.instance.pk is None
            else {pi.partner_id: pi.person_id for pi in self.instance.pis.all()}
        )
        for partner in call.partners.all():
            name = f"pi_{partner.pk}"
            self.fields[name] = forms.ModelChoiceField(
                queryset=Person.objects.filter(
                    roles__partner=partner, roles__kind=RoleKind.RESEARCHER, erased_at__isnull=True
                ).distinct(),
                required=False,
                label=_("PI at %(p)s") % {"p": partner},
                initial=current.get(partner.pk),
            )
            self.pi_fields.append((name, partner))

    def clean_pdf(self) -> Any:
        pdf = self.cleaned_data.get("pdf")
        if isinstance(pdf, UploadedFile):
            validate_pdf(pdf)
        return pdf


class AssignReviewerForm(forms.Form):
    reviewer = forms.ModelChoiceField(
        queryset=Person.objects.filter(roles__kind=RoleKind.REVIEWER, erased_at__isnull=True).distinct(),
        label=_("reviewer"),
    )
    confirm_unknown = forms.BooleanField(
        required=False,
        label=_("I confirm there is no conflict of interest (needed when the check cannot decide)"),
    )


class ReviewForm(forms.Form):
    comment = forms.CharField(widget=forms.Textarea, required=False, label=_("comment"))
    confidential = forms.BooleanField(
        required=False, initial=True, label=_("confidential (never shown to applicants)")
    )

    def __init__(self, *args: Any, criteria: list[Criterion], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.criteria = criteria
        for c in criteria:
            self.fields[f"score_{c.pk}"] = forms.IntegerField(min_value=0, max_value=5, label=str(c))

    def scores(self) -> dict[int, int]:
        return {c.pk: int(self.cleaned_data[f"score_{c.pk}"]) for c in self.criteria}


class DecisionForm(forms.ModelForm[Decision]):
    class Meta:
        model = Decision
        fields = ["outcome", "amount", "panel", "feedback"]


class RecommendationForm(forms.ModelForm[PanelRecommendation]):
    class Meta:
        model = PanelRecommendation
        fields = ["recommendation", "comment"]


class StartProjectForm(forms.Form):
    start = forms.DateField(label=_("start"), widget=forms.DateInput(attrs={"type": "date"}))


class StayForm(forms.Form):
    start = forms.DateField(label=_("from"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("to"), widget=forms.DateInput(attrs={"type": "date"}))


StayFormSet = forms.formset_factory(StayForm, extra=3, can_delete=True)


class LedgerEntryForm(forms.ModelForm[LedgerEntry]):
    class Meta:
        model = LedgerEntry
        fields = ["partner", "kind", "amount", "currency", "day", "note"]
        widgets = {"day": forms.DateInput(attrs={"type": "date"})}


class RateForm(forms.ModelForm[ReferenceRate]):
    class Meta:
        model = ReferenceRate
        fields = ["day", "currency", "eur_per_unit"]
        widgets = {"day": forms.DateInput(attrs={"type": "date"})}


class RateCsvForm(forms.Form):
    csv_file = forms.FileField(label=_("CSV file (date,currency,eur_per_unit)"))


class OutputForm(forms.Form):
    identifier = forms.CharField(label=_("DOI or OpenAlex id"), max_length=200)


class ExchangeForm(forms.ModelForm[Exchange]):
    class Meta:
        model = Exchange
        fields = [
            "person",
            "kind",
            "from_partner",
            "to_partner",
            "start",
            "end",
            "purpose",
            "funding_amount",
            "currency",
            "project",
        ]
        widgets = {
            "start": forms.DateInput(attrs={"type": "date"}),
            "end": forms.DateInput(attrs={"type": "date"}),
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            raise forms.ValidationError(_("The visit ends before it starts."))
        if data.get("from_partner") and data.get("from_partner") == data.get("to_partner"):
            raise forms.ValidationError(_("A visit goes from one partner to the other."))
        return data


class GrantForm(forms.ModelForm[Grant]):
    class Meta:
        model = Grant
        fields = [
            "funder",
            "scheme",
            "reference",
            "title",
            "amount",
            "currency",
            "start",
            "end",
            "partners",
            "projects",
        ]
        widgets = {
            "start": forms.DateInput(attrs={"type": "date"}),
            "end": forms.DateInput(attrs={"type": "date"}),
        }


CONSENT_TEXT = _(
    "I agree that the partnership office keeps my name, e-mail, identifiers (ORCID, OpenAlex) and my "
    "applications, reviews and projects to run its programmes; I can ask for an export or the erasure of my "
    "data at any time (decisions and payments are kept, anonymised)."
)


class SignUpForm(UserCreationForm):  # type: ignore[type-arg]
    email = forms.EmailField(label=_("e-mail"))
    full_name = forms.CharField(label=_("full name"), max_length=200)
    partner = forms.ModelChoiceField(queryset=Partner.objects.all(), label=_("your institution"))
    orcid = forms.CharField(label=_("ORCID"), max_length=19, required=False, validators=[validate_orcid])
    consent = forms.BooleanField(label=CONSENT_TEXT, required=True)

    class Meta(UserCreationForm.Meta):  # type: ignore[name-defined,misc]
        model = get_user_model()
        fields = ("username",)
