//! `tipgrants.v1.FundsService`: appropriations and where each stands.

use chrono::NaiveDate;
use tonic::{Request, Response, Status};

use super::paging;
use super::{
    ProtoEnum, accept, accept_list, accept_update, accept_write, etag, filter_number, required,
    timestamp,
};
use crate::domain::fiscal_year::FiscalCalendar;
use crate::domain::funds::{
    self, Appropriation, AppropriationFilter, AppropriationInput, Draw, Drawn, FundsPosition,
};
use crate::domain::names::{ANY, AppropriationName, FundingAccountName, ResourceName};
use crate::domain::validate;
use crate::error::{Error, Result};
use crate::pb::v1 as pb;
use crate::pb::v1::funds_service_server::FundsService;
use crate::store::{Store, Tx, now};

/// Serves appropriations.
pub struct FundsApi {
    store: Store,
    calendar: FiscalCalendar,
}

impl FundsApi {
    pub fn new(store: Store, calendar: FiscalCalendar) -> Self {
        Self { store, calendar }
    }
}

code_enum! {
    /// The fields of an appropriation an update may change (the paths of its mask).
    pub enum AppropriationField {
        Amount => "amount",
        AvailabilityYears => "availability_years",
        Note => "note",
    }
}

code_enum! {
    /// The fields a filter of appropriations may name.
    pub enum AppropriationFilterField {
        FiscalYear => "fiscal_year",
    }
}

write_requests!(pb::CreateAppropriationRequest,);
list_requests!(pb::ListAppropriationsRequest);
list_responses!(pb::ListAppropriationsResponse => appropriations: pb::Appropriation);
update_requests!(pb::UpdateAppropriationRequest => appropriation: pb::Appropriation [AppropriationName, AppropriationField]);

/// The check every draw on an appropriation passes, in `tx` (a grant's obligation, an
/// emergency-fund allocation): a live funding account, then the appropriation, locked until
/// commit, available on the draw's day with enough left (a draw that gives back is let
/// through). `field` names the request's funding account.
pub(super) async fn draw_funds(
    tx: &Tx,
    calendar: &FiscalCalendar,
    draw: &Draw<'_>,
    field: &str,
) -> Result<()> {
    tx.funding_account_presence(draw.account_code)
        .await?
        .require_live(field, &FundingAccountName::new(draw.account_code))?;
    let position = tx
        .appropriation_for_update(draw.account_code, draw.fiscal_year, None)
        .await?
        .map(|(appropriation, drawn)| {
            FundsPosition::new(appropriation, &drawn, draw.date, calendar)
        });
    funds::check_draw(position.as_ref(), draw, calendar)
}

/// The proto form of an appropriation as it stands.
fn to_proto(position: &FundsPosition) -> pb::Appropriation {
    let appropriation = &position.appropriation;
    pb::Appropriation {
        name: appropriation.resource_name(),
        funding_account: FundingAccountName::new(&appropriation.account_code).to_string(),
        fiscal_year: appropriation.fiscal_year,
        amount: appropriation.fields.amount.0,
        availability_years: appropriation.fields.availability_years,
        note: appropriation.fields.note.clone(),
        last_obligation_fiscal_year: appropriation.last_obligation_year(),
        cancellation_fiscal_year: appropriation.cancellation_year(),
        as_of_date: position.as_of.to_string(),
        status: position.status.to_proto(),
        obligated_amount: position.sums.net().0,
        deobligated_amount: position.sums.deobligated.0,
        available_amount: position.available().0,
        expired_amount: position.expired().0,
        cancelled_amount: position.cancelled().0,
        create_time: Some(timestamp(appropriation.stamps.create_time)),
        update_time: Some(timestamp(appropriation.stamps.update_time)),
        etag: etag(appropriation.stamps.revision),
        expended_amount: position.expended.0,
        paid_amount: position.paid.0,
        unliquidated_amount: position.unliquidated().0,
    }
}

fn input(appropriation: &pb::Appropriation) -> AppropriationInput<'_> {
    AppropriationInput {
        amount: appropriation.amount,
        availability_years: appropriation.availability_years,
        note: &appropriation.note,
    }
}

/// The day of `as_of_date`, or today when it is empty.
fn as_of(value: &str) -> Result<NaiveDate> {
    if value.trim().is_empty() {
        return Ok(now().date_naive());
    }
    Ok(validate::date("as_of_date", value)?)
}

impl FundsApi {
    fn position(&self, found: (Appropriation, Drawn), day: NaiveDate) -> pb::Appropriation {
        let (appropriation, drawn) = found;
        to_proto(&FundsPosition::new(
            appropriation,
            &drawn,
            day,
            &self.calendar,
        ))
    }
}

#[tonic::async_trait]
impl FundsService for FundsApi {
    async fn create_appropriation(
        &self,
        request: Request<pb::CreateAppropriationRequest>,
    ) -> Result<Response<pb::Appropriation>, Status> {
        let (_, write, request) = accept_write(request)?;
        let parent = FundingAccountName::parse("parent", &request.parent)?;
        if parent.code == ANY {
            return Err(Error::invalid("parent", "must name one funding account, not `-`").into());
        }
        let appropriation = required("appropriation", &request.appropriation)?;
        let year = funds::check_appropriation_year(
            "appropriation.fiscal_year",
            appropriation.fiscal_year,
        )?;
        let fields = input(appropriation).validate("appropriation")?;
        let today = now().date_naive();
        let answer = write
            .run(&self.store, async |tx| {
                tx.funding_account_presence(&parent.code)
                    .await?
                    .require_live("parent", &parent)?;
                let created = tx.create_appropriation(&parent.code, year, fields).await?;
                Ok(self.position((created, Drawn::default()), today))
            })
            .await?;
        Ok(Response::new(answer))
    }

    async fn get_appropriation(
        &self,
        request: Request<pb::GetAppropriationRequest>,
    ) -> Result<Response<pb::Appropriation>, Status> {
        let (_, request) = accept(request)?;
        let name = AppropriationName::parse("name", &request.name)?;
        let day = as_of(&request.as_of_date)?;
        let found = self.store.get_appropriation(&name).await?;
        Ok(Response::new(self.position(found, day)))
    }

    async fn list_appropriations(
        &self,
        request: Request<pb::ListAppropriationsRequest>,
    ) -> Result<Response<pb::ListAppropriationsResponse>, Status> {
        let (_, request, page) = accept_list(request)?;
        let parent = FundingAccountName::parse("parent", &request.parent)?;
        let day = as_of(&request.as_of_date)?;
        let mut filter = AppropriationFilter {
            account_code: (parent.code != ANY).then(|| parent.code.clone()),
            fiscal_year: None,
        };
        for (field, value) in paging::parse_filter::<AppropriationFilterField>(&request.filter)? {
            match field {
                AppropriationFilterField::FiscalYear => {
                    filter.fiscal_year = Some(filter_number("fiscal_year", &value)?)
                }
            }
        }
        let found = self
            .store
            .list_appropriations(&filter, &page.keyset)
            .await?;
        let found = found.map(|item| self.position(item, day));
        Ok(page.respond(found, Clone::clone))
    }

    async fn update_appropriation(
        &self,
        request: Request<pb::UpdateAppropriationRequest>,
    ) -> Result<Response<pb::Appropriation>, Status> {
        let update = accept_update(request)?;
        let year: i32 = update
            .name
            .fiscal_year
            .parse()
            .map_err(|_| Error::not_found(&update.name))?;
        let today = now().date_naive();
        let mut tx = self.store.begin(&update.call).await?;
        let (current, drawn) = tx
            .appropriation_for_update(&update.name.code, year, update.expected)
            .await?
            .ok_or_else(|| Error::not_found(&update.name))?;
        let mut merged = self.position((current.clone(), drawn.clone()), today);
        for field in update.fields {
            match field {
                AppropriationField::Amount => merged.amount = update.changes.amount,
                AppropriationField::AvailabilityYears => {
                    merged.availability_years = update.changes.availability_years
                }
                AppropriationField::Note => merged.note = update.changes.note.clone(),
            }
        }
        let fields = input(&merged).validate("appropriation")?;
        let position = FundsPosition::new(current.clone(), &drawn, today, &self.calendar);
        funds::check_appropriation_change(&position, &fields)?;
        tx.save_appropriation(current, fields).await?;
        tx.commit().await?;
        // Read again for the whole funds status (what was expended and paid from it too).
        let found = self.store.get_appropriation(&update.name).await?;
        Ok(Response::new(self.position(found, today)))
    }
}
