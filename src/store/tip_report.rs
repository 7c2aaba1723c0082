//! TIP Report data: rankings (one per country and report year, keyed by both)
//! and recommendations (UUIDv7 ids, soft-deleted). Reference data: every role
//! reads all of it, so there is no scope. Rankings page on the composite key
//! (country code, report year), encoded in page tokens as `HT:2014`.

use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{Set, Unchanged},
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Select,
};

use super::entities::{countries, tip_rankings, tip_recommendations};
use super::{Keyset, Page, SoftDeletable, Stamped, Store, Tx, decode_code, new_id, now};
use crate::domain::names::{TipRankingName, TipRecommendationName};
use crate::domain::pillar::Pillar;
use crate::domain::tip_report::{
    TipRanking, TipRankingFields, TipRecommendation, TipRecommendationFields, TipTier,
};
use crate::domain::version::{self, Stamps, Versioned};
use crate::error::{Error, Result};

/// Which rankings to list.
#[derive(Debug, Clone, Default)]
pub struct TipRankingFilter {
    /// One country; `None` for every country.
    pub country_code: Option<String>,
    pub report_year: Option<i32>,
    pub tier: Option<TipTier>,
    /// The countries of one region.
    pub region_code: Option<String>,
}

/// Which recommendations to list.
#[derive(Debug, Clone, Default)]
pub struct TipRecommendationFilter {
    /// One country; `None` for every country.
    pub country_code: Option<String>,
    pub report_year: Option<i32>,
    pub pillar: Option<Pillar>,
    /// The countries of one region.
    pub region_code: Option<String>,
    pub show_deleted: bool,
}

fn ranking(row: tip_rankings::Model) -> Result<TipRanking> {
    let position = format!("{}/{}", row.country_code, row.report_year);
    let tier: TipTier = decode_code("tip_rankings.tier", &position, &row.tier)?;
    Ok(TipRanking {
        stamps: row.stamps(),
        country_code: row.country_code,
        report_year: row.report_year,
        fields: TipRankingFields { tier },
    })
}

fn recommendation(row: tip_recommendations::Model) -> Result<TipRecommendation> {
    let pillar: Pillar = decode_code("tip_recommendations.pillar", &row.id, &row.pillar)?;
    Ok(TipRecommendation {
        stamps: row.stamps(),
        id: row.id,
        country_code: row.country_code,
        report_year: row.report_year,
        pillar,
        text: row.text,
        delete_time: row.delete_time,
    })
}

/// The keyset position of a ranking: `HT:2014`.
fn ranking_position(row: &tip_rankings::Model) -> String {
    format!("{}:{}", row.country_code, row.report_year)
}

/// Reads a position written by [`ranking_position`].
fn parse_ranking_position(position: &str) -> Result<(String, i32)> {
    position
        .split_once(':')
        .and_then(|(code, year)| Some((code.to_string(), year.parse::<i32>().ok()?)))
        .ok_or_else(|| {
            Error::invalid(
                "page_token",
                "is not a page token of this list; start again without one",
            )
        })
}

/// Keeps the rows whose `country_column` names a country of `region_code`.
fn in_region<E: EntityTrait>(
    select: Select<E>,
    country_column: E::Column,
    region_code: &str,
) -> Select<E> {
    select.filter(
        country_column.in_subquery(
            Query::select()
                .column(countries::Column::Alpha2)
                .from(countries::Entity)
                .and_where(countries::Column::RegionCode.eq(region_code))
                .to_owned(),
        ),
    )
}

async fn find_ranking(
    conn: &impl ConnectionTrait,
    country_code: &str,
    report_year: i32,
) -> Result<Option<tip_rankings::Model>> {
    Ok(
        tip_rankings::Entity::find_by_id((country_code.to_string(), report_year))
            .one(conn)
            .await?,
    )
}

/// A recommendation by id, only under the country its name says.
async fn find_recommendation(
    conn: &impl ConnectionTrait,
    country_code: &str,
    id: &str,
) -> Result<tip_recommendations::Model> {
    tip_recommendations::Entity::find_by_id(id)
        .filter(tip_recommendations::Column::CountryCode.eq(country_code))
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found(TipRecommendationName::new(country_code, id)))
}

impl Store {
    /// One ranking.
    pub async fn get_tip_ranking(&self, name: &TipRankingName) -> Result<TipRanking> {
        find_ranking(&self.db, &name.country, name.year())
            .await?
            .ok_or_else(|| {
                Error::not_found(TipRankingName::new(&name.country, name.year().to_string()))
            })
            .and_then(ranking)
    }

    /// A page of rankings in (country code, report year) order, after the position `after`.
    pub async fn list_tip_rankings(
        &self,
        filter: &TipRankingFilter,
        page: &Keyset,
    ) -> Result<Page<TipRanking>> {
        let mut select = tip_rankings::Entity::find();
        if let Some(country_code) = &filter.country_code {
            select = select.filter(tip_rankings::Column::CountryCode.eq(country_code.as_str()));
        }
        if let Some(report_year) = filter.report_year {
            select = select.filter(tip_rankings::Column::ReportYear.eq(report_year));
        }
        if let Some(tier) = filter.tier {
            select = select.filter(tip_rankings::Column::Tier.eq(tier.code()));
        }
        if let Some(region_code) = &filter.region_code {
            select = in_region(select, tip_rankings::Column::CountryCode, region_code);
        }
        if let Some(after) = &page.after {
            let (country_code, report_year) = parse_ranking_position(after)?;
            select = select.filter(
                Condition::any()
                    .add(tip_rankings::Column::CountryCode.gt(country_code.as_str()))
                    .add(
                        Condition::all()
                            .add(tip_rankings::Column::CountryCode.eq(country_code.as_str()))
                            .add(tip_rankings::Column::ReportYear.gt(report_year)),
                    ),
            );
        }
        let mut rows = select
            .order_by_asc(tip_rankings::Column::CountryCode)
            .order_by_asc(tip_rankings::Column::ReportYear)
            .limit(page.limit + 1)
            .all(&self.db)
            .await?;
        let more = rows.len() as u64 > page.limit;
        rows.truncate(page.limit as usize);
        let next_after = more.then(|| rows.last().map(ranking_position)).flatten();
        Ok(Page {
            items: rows.into_iter().map(ranking).collect::<Result<_>>()?,
            next_after,
        })
    }

    /// One recommendation, deleted or not.
    pub async fn get_tip_recommendation(
        &self,
        name: &TipRecommendationName,
    ) -> Result<TipRecommendation> {
        recommendation(find_recommendation(&self.db, &name.country, &name.recommendation).await?)
    }

    /// A page of recommendations in id (creation) order.
    pub async fn list_tip_recommendations(
        &self,
        filter: &TipRecommendationFilter,
        page: &Keyset,
    ) -> Result<Page<TipRecommendation>> {
        let mut select = tip_recommendations::Entity::find();
        if let Some(country_code) = &filter.country_code {
            select =
                select.filter(tip_recommendations::Column::CountryCode.eq(country_code.as_str()));
        }
        if let Some(report_year) = filter.report_year {
            select = select.filter(tip_recommendations::Column::ReportYear.eq(report_year));
        }
        if let Some(pillar) = filter.pillar {
            select = select.filter(tip_recommendations::Column::Pillar.eq(pillar.code()));
        }
        if let Some(region_code) = &filter.region_code {
            select = in_region(
                select,
                tip_recommendations::Column::CountryCode,
                region_code,
            );
        }
        if !filter.show_deleted {
            select = select.filter(tip_recommendations::Column::DeleteTime.is_null());
        }
        page.fetch(&self.db, select, tip_recommendations::Column::Id, |row| {
            row.id.clone()
        })
        .await?
        .try_map(recommendation)
    }

    /// The recommendations among `ids`, deleted or not, in id order (unknown ids are left out):
    /// how a project shows the recommendations it answers, by resource name.
    pub async fn tip_recommendations(&self, ids: &[String]) -> Result<Vec<TipRecommendation>> {
        recommendations_among(&self.db, ids, true).await
    }
}

pub(super) async fn recommendations_among(
    conn: &impl ConnectionTrait,
    ids: &[String],
    include_deleted: bool,
) -> Result<Vec<TipRecommendation>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut select = tip_recommendations::Entity::find()
        .filter(tip_recommendations::Column::Id.is_in(ids.iter().map(String::as_str)));
    if !include_deleted {
        select = select.filter(tip_recommendations::Column::DeleteTime.is_null());
    }
    select
        .order_by_asc(tip_recommendations::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(recommendation)
        .collect()
}

impl Tx {
    /// The live recommendations among `ids`, in id order; unknown and deleted ids are left out,
    /// so a caller that cites recommendations compares what it asked for with what it got.
    pub async fn tip_recommendations_for(&self, ids: &[String]) -> Result<Vec<TipRecommendation>> {
        recommendations_among(&self.txn, ids, false).await
    }

    /// Records the tier of a known country for a report year; one ranking per country and year.
    pub async fn create_tip_ranking(
        &mut self,
        country_code: &str,
        report_year: i32,
        fields: TipRankingFields,
    ) -> Result<TipRanking> {
        if find_ranking(&self.txn, country_code, report_year)
            .await?
            .is_some()
        {
            let resource = TipRankingName::new(country_code, report_year.to_string()).to_string();
            return Err(Error::AlreadyExists {
                message: format!(
                    "{resource} already exists: a country has one ranking per report year; update its tier instead"
                ),
                resource,
            });
        }
        let row = tip_rankings::ActiveModel {
            country_code: Set(country_code.to_string()),
            report_year: Set(report_year),
            tier: Set(fields.tier.code().to_string()),
            ..Stamped::created(Stamps::new(now()))
        };
        self.insert_audited(row, ranking, |created| {
            (created.resource_name(), &created.fields)
        })
        .await
    }

    /// Reads a ranking for a change: it must be at `etag` when one is given.
    pub async fn tip_ranking_for_update(
        &self,
        name: &TipRankingName,
        etag: Option<i64>,
    ) -> Result<TipRanking> {
        let current = find_ranking(&self.txn, &name.country, name.year())
            .await?
            .ok_or_else(|| Error::not_found(name))
            .and_then(ranking)?;
        version::check_etag(&current.resource_name(), current.stamps.revision, etag)?;
        Ok(current)
    }

    /// Replaces the fields of `current` with `fields`.
    pub async fn update_tip_ranking(
        &mut self,
        current: TipRanking,
        fields: TipRankingFields,
    ) -> Result<TipRanking> {
        let row = tip_rankings::ActiveModel {
            country_code: Unchanged(current.country_code.clone()),
            report_year: Unchanged(current.report_year),
            tier: Set(fields.tier.code().to_string()),
            ..Stamped::revised(current.stamps.next(now()))
        };
        let updated = ranking(row.update(&self.txn).await?)?;
        self.audit(
            &updated.resource_name(),
            Some(&current.fields),
            Some(&updated.fields),
        )?;
        Ok(updated)
    }

    /// Records a recommendation to a known country.
    pub async fn create_tip_recommendation(
        &mut self,
        country_code: &str,
        fields: TipRecommendationFields,
    ) -> Result<TipRecommendation> {
        let row = tip_recommendations::ActiveModel {
            id: Set(new_id()),
            country_code: Set(country_code.to_string()),
            report_year: Set(fields.report_year),
            pillar: Set(fields.pillar.code().to_string()),
            text: Set(fields.text.clone()),
            ..Stamped::created(Stamps::new(now()))
        };
        self.insert_audited(row, recommendation, |created| {
            (created.resource_name(), created)
        })
        .await
    }

    /// Reads a recommendation for a change: it must be live, and at `etag` when one is given.
    pub async fn tip_recommendation_for_update(
        &self,
        name: &TipRecommendationName,
        etag: Option<i64>,
    ) -> Result<TipRecommendation> {
        let current = recommendation(
            find_recommendation(&self.txn, &name.country, &name.recommendation).await?,
        )?;
        current.writable(etag)
    }

    /// Replaces the fields of `current` with `fields`.
    pub async fn update_tip_recommendation(
        &mut self,
        current: TipRecommendation,
        fields: TipRecommendationFields,
    ) -> Result<TipRecommendation> {
        let row = tip_recommendations::ActiveModel {
            id: Unchanged(current.id.clone()),
            report_year: Set(fields.report_year),
            pillar: Set(fields.pillar.code().to_string()),
            text: Set(fields.text.clone()),
            ..Stamped::revised(current.stamps.next(now()))
        };
        self.update_audited(row, &current, recommendation, |recommendation| {
            recommendation
        })
        .await
    }

    /// Soft-deletes `current`: it stays readable, and projects that cite it keep it.
    pub async fn delete_tip_recommendation(
        &mut self,
        current: TipRecommendation,
    ) -> Result<TipRecommendation> {
        let stamps = current.stamps.next(now());
        let row = tip_recommendations::ActiveModel {
            id: Unchanged(current.id.clone()),
            ..SoftDeletable::saved(stamps, true)
        };
        self.update_audited(row, &current, recommendation, |recommendation| {
            recommendation
        })
        .await
    }
}
