//! `tipgrants.v1.TipReportService`: TIP Report rankings and recommendations
//! under `countries/{alpha2}`. Lists take `countries/-` for every country;
//! their page tokens are bound to the parent and the filter.

use tonic::{Request, Response, Status};

use super::paging;
use super::{
    ProtoEnum, accept_delete, accept_list, accept_name, accept_update, accept_write, etag,
    filter_code, required, timestamp,
};
use crate::domain::names::{
    CountryName, RegionName, ResourceName, TipRankingName, TipRecommendationName, excerpt,
    parse_parent,
};
use crate::domain::pillar::Pillar;
use crate::domain::reference;
use crate::domain::tip_report::{
    self, TipRanking, TipRecommendation, TipRecommendationInput, TipTier,
};
use crate::domain::validate::CheckAll;
use crate::error::{Error, Result};
use crate::pb::v1 as pb;
use crate::pb::v1::tip_report_service_server::TipReportService;
use crate::store::tip_report::{TipRankingFilter, TipRecommendationFilter};
use crate::store::{Store, Tx};

/// Serves the TIP Report data.
pub struct TipReportApi {
    store: Store,
}

impl TipReportApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

code_enum! {
    /// The fields of a ranking an update may change (the paths of its mask).
    pub enum RankingField {
        Tier => "tier",
    }
}

code_enum! {
    /// The fields of a recommendation an update may change (the paths of its mask).
    pub enum RecommendationField {
        ReportYear => "report_year",
        Pillar => "pillar",
        Text => "text",
    }
}

code_enum! {
    /// The fields a filter of TIP rankings may name.
    pub enum RankingFilterField {
        ReportYear => "report_year",
        Tier => "tier",
        Region => "region",
    }
}

code_enum! {
    /// The fields a filter of TIP recommendations may name.
    pub enum RecommendationFilterField {
        ReportYear => "report_year",
        Pillar => "pillar",
        Region => "region",
    }
}

named_requests!(
    pb::GetTipRankingRequest,
    pb::GetTipRecommendationRequest;
    with etag: pb::DeleteTipRecommendationRequest
);
write_requests!(
    pb::CreateTipRankingRequest,
    pb::CreateTipRecommendationRequest,
);
list_requests!(
    pb::ListTipRankingsRequest,
    pb::ListTipRecommendationsRequest,
);
list_responses!(
    pb::ListTipRankingsResponse => tip_rankings: pb::TipRanking,
    pb::ListTipRecommendationsResponse => tip_recommendations: pb::TipRecommendation,
);
update_requests!(
    pb::UpdateTipRankingRequest => tip_ranking: pb::TipRanking [TipRankingName, RankingField],
    pb::UpdateTipRecommendationRequest => tip_recommendation: pb::TipRecommendation [TipRecommendationName, RecommendationField],
);

/// A parent country must be a known one.
async fn check_country(tx: &Tx, field: &str, country: &CountryName) -> Result<()> {
    let unknown = tx
        .unknown_countries(std::slice::from_ref(&country.country))
        .await?;
    Ok(reference::check_known_country(
        field,
        &country.country,
        &unknown,
    )?)
}

/// The proto form of a ranking.
pub fn ranking_to_proto(ranking: &TipRanking) -> pb::TipRanking {
    pb::TipRanking {
        name: ranking.resource_name(),
        country_code: ranking.country_code.clone(),
        report_year: ranking.report_year,
        tier: ranking.fields.tier.to_proto(),
        create_time: Some(timestamp(ranking.stamps.create_time)),
        update_time: Some(timestamp(ranking.stamps.update_time)),
        etag: etag(ranking.stamps.revision),
    }
}

/// The proto form of a recommendation.
pub fn recommendation_to_proto(recommendation: &TipRecommendation) -> pb::TipRecommendation {
    pb::TipRecommendation {
        name: recommendation.resource_name(),
        country_code: recommendation.country_code.clone(),
        report_year: recommendation.report_year,
        pillar: recommendation.pillar.to_proto(),
        text: recommendation.text.clone(),
        create_time: Some(timestamp(recommendation.stamps.create_time)),
        update_time: Some(timestamp(recommendation.stamps.update_time)),
        delete_time: recommendation.delete_time.map(timestamp),
        etag: etag(recommendation.stamps.revision),
    }
}

fn input(recommendation: &pb::TipRecommendation) -> TipRecommendationInput<'_> {
    TipRecommendationInput {
        report_year: recommendation.report_year,
        pillar: Pillar::from_proto(recommendation.pillar),
        text: &recommendation.text,
    }
}

fn filter_year(value: &str) -> Result<i32> {
    value.parse::<i32>().map_err(|_| {
        Error::invalid(
            "filter",
            format!("report_year {} is not a year such as 2014", excerpt(value)),
        )
    })
}

fn parse_ranking_filter(filter: &str) -> Result<TipRankingFilter> {
    let mut parsed = TipRankingFilter::default();
    for (field, value) in paging::parse_filter::<RankingFilterField>(filter)? {
        match field {
            RankingFilterField::ReportYear => parsed.report_year = Some(filter_year(&value)?),
            RankingFilterField::Tier => {
                parsed.tier = Some(filter_code::<TipTier>(
                    &value,
                    "tier: TIER_1, TIER_2, TIER_2_WATCH_LIST, TIER_3 or SPECIAL_CASE",
                )?)
            }
            RankingFilterField::Region => parsed.region_code = Some(paging::region_filter(&value)),
        }
    }
    Ok(parsed)
}

fn parse_recommendation_filter(filter: &str) -> Result<TipRecommendationFilter> {
    let mut parsed = TipRecommendationFilter::default();
    for (field, value) in paging::parse_filter::<RecommendationFilterField>(filter)? {
        match field {
            RecommendationFilterField::ReportYear => {
                parsed.report_year = Some(filter_year(&value)?)
            }
            RecommendationFilterField::Pillar => {
                parsed.pillar = Some(filter_code::<Pillar>(
                    &value,
                    "pillar: PROSECUTION, PROTECTION, PREVENTION or PARTNERSHIP",
                )?)
            }
            RecommendationFilterField::Region => {
                parsed.region_code = Some(paging::region_filter(&value))
            }
        }
    }
    Ok(parsed)
}

impl TipReportApi {
    /// The country code of a list's parent (`None` for `countries/-`); a named country must exist.
    async fn list_parent(&self, parent: &str) -> Result<Option<String>> {
        match parse_parent::<CountryName>("parent", parent)? {
            None => Ok(None),
            Some(name) => Ok(Some(self.store.get_country(&name).await?.alpha2)),
        }
    }

    /// Checks that a region filter names a known region.
    async fn require_region(&self, region_code: Option<&str>) -> Result<()> {
        let Some(region_code) = region_code else {
            return Ok(());
        };
        match self.store.get_region(&RegionName::new(region_code)).await {
            Ok(_) => Ok(()),
            Err(Error::NotFound { .. }) => Err(Error::invalid(
                "filter",
                format!(
                    "region {} is not a known region code such as AF or WHA",
                    excerpt(region_code)
                ),
            )),
            Err(other) => Err(other),
        }
    }
}

#[tonic::async_trait]
impl TipReportService for TipReportApi {
    async fn create_tip_ranking(
        &self,
        request: Request<pb::CreateTipRankingRequest>,
    ) -> Result<Response<pb::TipRanking>, Status> {
        let (_, write, request) = accept_write(request)?;
        let (country, report_year, fields) = (
            CountryName::parse("parent", &request.parent),
            tip_report::report_year("report_year", request.report_year),
            required("tip_ranking", &request.tip_ranking).and_then(|ranking| {
                Ok(tip_report::ranking_fields(
                    "tip_ranking",
                    TipTier::from_proto(ranking.tier),
                )?)
            }),
        )
            .all()?;

        let answer = write
            .run(&self.store, async |tx| {
                check_country(tx, "parent", &country).await?;
                let created = tx
                    .create_tip_ranking(&country.country, report_year, fields)
                    .await?;
                Ok(ranking_to_proto(&created))
            })
            .await?;
        Ok(Response::new(answer))
    }

    async fn get_tip_ranking(
        &self,
        request: Request<pb::GetTipRankingRequest>,
    ) -> Result<Response<pb::TipRanking>, Status> {
        let (_, name) = accept_name::<_, TipRankingName>(request)?;
        let ranking = self.store.get_tip_ranking(&name).await?;
        Ok(Response::new(ranking_to_proto(&ranking)))
    }

    async fn list_tip_rankings(
        &self,
        request: Request<pb::ListTipRankingsRequest>,
    ) -> Result<Response<pb::ListTipRankingsResponse>, Status> {
        let (_, request, page) = accept_list(request)?;
        let country_code = self.list_parent(&request.parent).await?;
        let mut filter = parse_ranking_filter(&request.filter)?;
        filter.country_code = country_code;
        self.require_region(filter.region_code.as_deref()).await?;
        let found = self.store.list_tip_rankings(&filter, &page.keyset).await?;
        Ok(page.respond(found, ranking_to_proto))
    }

    async fn update_tip_ranking(
        &self,
        request: Request<pb::UpdateTipRankingRequest>,
    ) -> Result<Response<pb::TipRanking>, Status> {
        let update = accept_update(request)?;
        let mut tier = None;
        for field in update.fields {
            match field {
                RankingField::Tier => tier = TipTier::from_proto(update.changes.tier),
            }
        }
        let fields = tip_report::ranking_fields("tip_ranking", tier)?;

        let mut tx = self.store.begin(&update.call).await?;
        let current = tx
            .tip_ranking_for_update(&update.name, update.expected)
            .await?;
        let updated = tx.update_tip_ranking(current, fields).await?;
        tx.commit().await?;
        Ok(Response::new(ranking_to_proto(&updated)))
    }

    async fn create_tip_recommendation(
        &self,
        request: Request<pb::CreateTipRecommendationRequest>,
    ) -> Result<Response<pb::TipRecommendation>, Status> {
        let (_, write, request) = accept_write(request)?;
        let (country, fields) = (
            CountryName::parse("parent", &request.parent),
            required("tip_recommendation", &request.tip_recommendation)
                .and_then(|recommendation| input(recommendation).validate("tip_recommendation")),
        )
            .all()?;

        let answer = write
            .run(&self.store, async |tx| {
                check_country(tx, "parent", &country).await?;
                let created = tx
                    .create_tip_recommendation(&country.country, fields)
                    .await?;
                Ok(recommendation_to_proto(&created))
            })
            .await?;
        Ok(Response::new(answer))
    }

    async fn get_tip_recommendation(
        &self,
        request: Request<pb::GetTipRecommendationRequest>,
    ) -> Result<Response<pb::TipRecommendation>, Status> {
        let (_, name) = accept_name::<_, TipRecommendationName>(request)?;
        let recommendation = self.store.get_tip_recommendation(&name).await?;
        Ok(Response::new(recommendation_to_proto(&recommendation)))
    }

    async fn list_tip_recommendations(
        &self,
        request: Request<pb::ListTipRecommendationsRequest>,
    ) -> Result<Response<pb::ListTipRecommendationsResponse>, Status> {
        let (_, request, page) = accept_list(request)?;
        let country_code = self.list_parent(&request.parent).await?;
        let mut filter = parse_recommendation_filter(&request.filter)?;
        filter.country_code = country_code;
        filter.show_deleted = request.show_deleted;
        self.require_region(filter.region_code.as_deref()).await?;
        let found = self
            .store
            .list_tip_recommendations(&filter, &page.keyset)
            .await?;
        Ok(page.respond(found, recommendation_to_proto))
    }

    async fn update_tip_recommendation(
        &self,
        request: Request<pb::UpdateTipRecommendationRequest>,
    ) -> Result<Response<pb::TipRecommendation>, Status> {
        let update = accept_update(request)?;

        let mut tx = self.store.begin(&update.call).await?;
        let current = tx
            .tip_recommendation_for_update(&update.name, update.expected)
            .await?;
        let mut merged = recommendation_to_proto(&current);
        for field in update.fields {
            match field {
                RecommendationField::ReportYear => merged.report_year = update.changes.report_year,
                RecommendationField::Pillar => merged.pillar = update.changes.pillar,
                RecommendationField::Text => merged.text = update.changes.text.clone(),
            }
        }
        let fields = input(&merged).validate("tip_recommendation")?;
        let updated = tx.update_tip_recommendation(current, fields).await?;
        tx.commit().await?;
        Ok(Response::new(recommendation_to_proto(&updated)))
    }

    async fn delete_tip_recommendation(
        &self,
        request: Request<pb::DeleteTipRecommendationRequest>,
    ) -> Result<Response<pb::TipRecommendation>, Status> {
        let (call, name, expected) = accept_delete::<_, TipRecommendationName>(request)?;
        let mut tx = self.store.begin(&call).await?;
        let current = tx.tip_recommendation_for_update(&name, expected).await?;
        let deleted = tx.delete_tip_recommendation(current).await?;
        tx.commit().await?;
        Ok(Response::new(recommendation_to_proto(&deleted)))
    }
}
