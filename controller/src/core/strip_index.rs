//! Soft: every live device's sweep strips, per (fleet, area), in x order.
//! A failure hands its strips to the survivors next to them; finding them
//! without this index meant collecting and sorting the area's whole
//! partition — O(N log N) per failure, the largest cost of a 100,000-device
//! run with failures. Failures keep the index up to date; every other
//! change to the strips (the first assignment, a join) drops it, and the
//! next failure rebuilds it from the devices. Never journaled: recovery
//! starts without it.

use super::{DeviceStatus, State};
use crate::geometry::Strip;
use crate::ids::DeviceId;
use hivemind_ir::{AreaId, FleetId};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default)]
pub(super) struct StripIndex {
    areas: BTreeMap<(FleetId, AreaId), BTreeMap<Strip, DeviceId>>,
    valid: bool,
}

impl StripIndex {
    /// Strips changed other than through [`StripIndex::area`]'s map.
    pub fn invalidate(&mut self) {
        self.valid = false;
        self.areas.clear();
    }

    /// The strips of `fleet`'s live devices in `area`, by x.
    pub fn area(
        &mut self,
        st: &State,
        fleet: FleetId,
        area: AreaId,
    ) -> &mut BTreeMap<Strip, DeviceId> {
        if !self.valid {
            for (id, d) in st.devices.iter() {
                if d.status == DeviceStatus::Alive {
                    for s in &d.cover {
                        self.areas
                            .entry((d.fleet, s.area))
                            .or_default()
                            .insert(*s, *id);
                    }
                }
            }
            self.valid = true;
        }
        self.areas.entry((fleet, area)).or_default()
    }
}
