use airlock_benches::conversation::{self, Plan, Shape};
use airlock_benches::policies;
fn main() {
    let policy = policies::default_policy();
    for shape in Shape::ALL {
        let plan = Plan { turns: 6, turn_bytes: 3 << 10, ..Plan::agent(shape, 3) };
        let mut scratch = policy.scratch();
        for turn in conversation::session(&plan) {
            let v = policy.inspect(&shape.request(&turn.body, Some(b"c")), &mut scratch);
            println!("{} {:?} {:?}", shape.name(), v.cache, scratch.cache_stats());
        }
    }
}
