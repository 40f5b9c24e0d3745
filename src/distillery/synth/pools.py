"""Small hand-made pools of realistic values, combined per row with NumPy indices.

Faker per row costs minutes per million profiles; drawing indices into fixed pools costs
milliseconds and keeps the output independent of any third-party data package's version.
The names are common US given and family names; cities come with their state, a real ZIP prefix
and area code, so an address and a phone number agree with each other.
"""

from __future__ import annotations

FEMALE_NAMES: tuple[str, ...] = (
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah",
    "Karen", "Lisa", "Nancy", "Betty", "Sandra", "Margaret", "Ashley", "Kimberly", "Emily",
    "Donna", "Michelle", "Carol", "Amanda", "Melissa", "Deborah", "Stephanie", "Dorothy",
    "Rebecca", "Sharon", "Laura", "Cynthia", "Amy", "Kathleen", "Angela", "Shirley", "Brenda",
    "Emma", "Anna", "Pamela", "Nicole", "Samantha", "Katherine", "Christine", "Helen", "Debra",
    "Rachel", "Carolyn", "Janet", "Maria", "Catherine", "Heather", "Diane", "Olivia", "Julie",
    "Joyce", "Victoria", "Ruth", "Virginia", "Lauren", "Kelly", "Christina", "Joan", "Evelyn",
    "Judith", "Andrea", "Hannah", "Megan", "Cheryl", "Jacqueline", "Martha", "Madison", "Teresa",
    "Gloria", "Sara", "Janice", "Ann", "Kathryn", "Abigail", "Sophia", "Frances", "Jean",
    "Alice", "Judy", "Isabella", "Julia", "Grace", "Amber", "Denise", "Danielle", "Marilyn",
    "Beverly", "Charlotte", "Natalie", "Theresa", "Diana", "Brittany", "Doris", "Kayla", "Alexis",
    "Lori", "Ava", "Mia", "Chloe", "Zoe", "Lucia", "Priya", "Mei", "Aaliyah", "Camila", "Elena",
)

MALE_NAMES: tuple[str, ...] = (
    "James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph", "Thomas",
    "Christopher", "Charles", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven", "Andrew",
    "Paul", "Joshua", "Kenneth", "Kevin", "Brian", "George", "Timothy", "Ronald", "Jason",
    "Edward", "Jeffrey", "Ryan", "Jacob", "Gary", "Nicholas", "Eric", "Jonathan", "Stephen",
    "Larry", "Justin", "Scott", "Brandon", "Benjamin", "Samuel", "Gregory", "Alexander", "Patrick",
    "Frank", "Raymond", "Jack", "Dennis", "Jerry", "Tyler", "Aaron", "Jose", "Adam", "Nathan",
    "Henry", "Zachary", "Douglas", "Peter", "Kyle", "Noah", "Ethan", "Jeremy", "Walter",
    "Christian", "Keith", "Roger", "Terry", "Austin", "Sean", "Gerald", "Carl", "Harold",
    "Dylan", "Arthur", "Lawrence", "Jordan", "Jesse", "Bryan", "Billy", "Bruce", "Gabriel", "Joe",
    "Logan", "Alan", "Juan", "Albert", "Willie", "Elijah", "Wayne", "Randy", "Vincent", "Mason",
    "Roy", "Ralph", "Bobby", "Russell", "Bradley", "Philip", "Eugene", "Liam", "Lucas", "Mateo",
    "Hiroshi", "Arjun", "Wei", "Omar", "Diego", "Luis", "Carlos",
)

LAST_NAMES: tuple[str, ...] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Gomez", "Phillips", "Evans", "Turner",
    "Diaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris", "Morales",
    "Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson", "Bailey",
    "Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson", "Brooks",
    "Chavez", "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price", "Alvarez",
    "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez", "Powell",
    "Jenkins", "Perry", "Russell", "Sullivan", "Bell", "Coleman", "Butler", "Henderson", "Barnes",
    "Gonzales", "Fisher", "Vasquez", "Simmons", "Romero", "Jordan", "Patterson", "Alexander",
    "Hamilton", "Graham", "Reynolds", "Griffin", "Wallace", "Moreno", "West", "Cole", "Hayes",
    "Bryant", "Herrera", "Gibson", "Ellis", "Tran", "Medina", "Aguilar", "Stevens", "Murray",
    "Ford", "Castro", "Marshall", "Owens", "Harrison", "Fernandez", "McDonald", "Woods",
    "Washington", "Kennedy", "Wells", "Vargas", "Henry", "Chen", "Freeman", "Webb", "Tucker",
    "Guzman", "Burns", "Crawford", "Olson", "Simpson", "Porter", "Hunter", "Gordon", "Mendez",
    "Silva", "Shaw", "Snyder", "Mason", "Dixon", "Munoz", "Hunt", "Hicks", "Holmes", "Palmer",
    "Wagner", "Black", "Robertson", "Boyd", "Rose", "Stone", "Salazar", "Fox", "Warren", "Mills",
    "Meyer", "Rice", "Schmidt", "Garza", "Daniels", "Ferguson", "Nichols", "Stephens", "Soto",
    "Weaver", "Ryan", "Gardner", "Payne", "Grant", "Dunn", "Kelley", "Spencer", "Hawkins",
    "Arnold", "Pierce", "Hansen", "Peters", "Santos", "Hart", "Bradley", "Knight", "Elliott",
    "Wang", "Singh", "Yamamoto", "Kowalski", "Novak", "O'Brien", "Schneider", "Rossi",
)

STREETS: tuple[str, ...] = (
    "Main", "Oak", "Pine", "Maple", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park",
    "Walnut", "Sunset", "Lincoln", "Jackson", "Church", "Highland", "Willow", "Ridge", "Spring",
    "River", "Chestnut", "Meadow", "Forest", "Madison", "Jefferson", "Franklin", "Adams", "Grant",
    "Center", "Mill", "Union", "Water", "North", "South", "Valley", "Birch", "Cherry", "Dogwood",
    "Hickory", "Magnolia", "Sycamore", "Aspen", "Laurel", "Poplar", "Spruce", "Locust", "Vine",
    "Prospect", "Summit", "Broad", "Market", "School", "College", "Bridge", "Railroad", "Front",
    "Harbor", "Orchard", "Fairview", "Glenwood", "Woodland", "Riverside", "Lakeview", "Sherwood",
    "Cambridge", "Hampton", "Brookside", "Heritage", "Canyon", "Mesa", "Sierra", "Bayview",
    "Cypress", "Palm", "Mulberry", "Juniper", "Redwood", "Evergreen", "Liberty", "Independence",
)

STREET_SUFFIXES: tuple[str, ...] = (
    "St", "Ave", "Rd", "Blvd", "Dr", "Ln", "Ct", "Way", "Pl", "Ter", "Pkwy", "Cir",
)

# (city, state, 3-digit ZIP prefix, area code)
CITIES: tuple[tuple[str, str, str, str], ...] = (
    ("New York", "NY", "100", "212"), ("Brooklyn", "NY", "112", "718"),
    ("Buffalo", "NY", "142", "716"), ("Los Angeles", "CA", "900", "213"),
    ("San Diego", "CA", "921", "619"), ("San Jose", "CA", "951", "408"),
    ("San Francisco", "CA", "941", "415"), ("Sacramento", "CA", "958", "916"),
    ("Fresno", "CA", "937", "559"), ("Chicago", "IL", "606", "312"),
    ("Springfield", "IL", "627", "217"), ("Houston", "TX", "770", "713"),
    ("San Antonio", "TX", "782", "210"), ("Dallas", "TX", "752", "214"),
    ("Austin", "TX", "787", "512"), ("Fort Worth", "TX", "761", "817"),
    ("El Paso", "TX", "799", "915"), ("Phoenix", "AZ", "850", "602"),
    ("Tucson", "AZ", "857", "520"), ("Philadelphia", "PA", "191", "215"),
    ("Pittsburgh", "PA", "152", "412"), ("Jacksonville", "FL", "322", "904"),
    ("Miami", "FL", "331", "305"), ("Tampa", "FL", "336", "813"),
    ("Orlando", "FL", "328", "407"), ("Columbus", "OH", "432", "614"),
    ("Cleveland", "OH", "441", "216"), ("Cincinnati", "OH", "452", "513"),
    ("Charlotte", "NC", "282", "704"), ("Raleigh", "NC", "276", "919"),
    ("Indianapolis", "IN", "462", "317"), ("Seattle", "WA", "981", "206"),
    ("Spokane", "WA", "992", "509"), ("Denver", "CO", "802", "303"),
    ("Colorado Springs", "CO", "809", "719"), ("Washington", "DC", "200", "202"),
    ("Boston", "MA", "021", "617"), ("Worcester", "MA", "016", "508"),
    ("Nashville", "TN", "372", "615"), ("Memphis", "TN", "381", "901"),
    ("Detroit", "MI", "482", "313"), ("Grand Rapids", "MI", "495", "616"),
    ("Portland", "OR", "972", "503"), ("Las Vegas", "NV", "891", "702"),
    ("Louisville", "KY", "402", "502"), ("Baltimore", "MD", "212", "410"),
    ("Milwaukee", "WI", "532", "414"), ("Madison", "WI", "537", "608"),
    ("Albuquerque", "NM", "871", "505"), ("Kansas City", "MO", "641", "816"),
    ("St. Louis", "MO", "631", "314"), ("Atlanta", "GA", "303", "404"),
    ("Savannah", "GA", "314", "912"), ("Omaha", "NE", "681", "402"),
    ("Minneapolis", "MN", "554", "612"), ("St. Paul", "MN", "551", "651"),
    ("New Orleans", "LA", "701", "504"), ("Salt Lake City", "UT", "841", "801"),
    ("Richmond", "VA", "232", "804"), ("Virginia Beach", "VA", "234", "757"),
    ("Birmingham", "AL", "352", "205"), ("Oklahoma City", "OK", "731", "405"),
    ("Hartford", "CT", "061", "860"), ("Providence", "RI", "029", "401"),
    ("Newark", "NJ", "071", "973"), ("Jersey City", "NJ", "073", "201"),
    ("Des Moines", "IA", "503", "515"), ("Boise", "ID", "837", "208"),
    ("Anchorage", "AK", "995", "907"), ("Honolulu", "HI", "968", "808"),
    ("Little Rock", "AR", "722", "501"), ("Charleston", "SC", "294", "843"),
    ("Burlington", "VT", "054", "802"), ("Portland", "ME", "041", "207"),
)

# Loyalty tiers with the share of members in each, from the top.
TIERS: tuple[tuple[str, float], ...] = (
    ("diamond", 0.02), ("platinum", 0.06), ("gold", 0.14), ("silver", 0.26), ("member", 0.52),
)

# (path, siteSection, page name) of the site the web events happen on.
PAGES: tuple[tuple[str, str, str], ...] = (
    ("/", "home", "Home"),
    ("/products", "products", "All products"),
    ("/products/new-arrivals", "products", "New arrivals"),
    ("/products/bestsellers", "products", "Bestsellers"),
    ("/products/sale", "products", "Sale"),
    ("/products/item-1024", "products", "Product detail"),
    ("/products/item-2048", "products", "Product detail"),
    ("/products/item-4096", "products", "Product detail"),
    ("/cart", "checkout", "Cart"),
    ("/checkout", "checkout", "Checkout"),
    ("/checkout/confirmation", "checkout", "Order confirmation"),
    ("/subscribe", "subscription", "Subscribe"),
    ("/subscribe/plans", "subscription", "Plans and pricing"),
    ("/offers", "offers", "Offers"),
    ("/offers/spring-campaign", "offers", "Spring campaign"),
    ("/blog", "content", "Blog"),
    ("/blog/how-to-choose", "content", "How to choose"),
    ("/blog/customer-stories", "content", "Customer stories"),
    ("/help", "support", "Help center"),
    ("/help/shipping", "support", "Shipping"),
    ("/help/returns", "support", "Returns"),
    ("/account", "account", "My account"),
    ("/account/orders", "account", "My orders"),
    ("/search", "search", "Search results"),
)

# (link name, link path) of the things a visitor clicks.
LINKS: tuple[tuple[str, str], ...] = (
    ("Add to cart", "/cart/add"), ("Buy now", "/checkout"), ("Subscribe", "/subscribe"),
    ("See plans", "/subscribe/plans"), ("Learn more", "/blog/how-to-choose"),
    ("Download brochure", "/assets/brochure.pdf"), ("Download price list", "/assets/prices.pdf"),
    ("View offer", "/offers"), ("Dismiss", "#dismiss"), ("Contact us", "/help"),
    ("Follow us", "https://social.example.net/brand"), ("Partner store", "https://partner.example.org"),
)

REGIONS: tuple[str, ...] = ("header", "hero", "body", "sidebar", "footer", "modal", "banner")

INTERACTION_TYPES: tuple[str, ...] = ("download", "exit", "other")

# (referrer URL, webReferrer.type)
REFERRERS: tuple[tuple[str, str], ...] = (
    ("https://www.google.com/", "search_engine"), ("https://www.bing.com/", "search_engine"),
    ("https://duckduckgo.com/", "search_engine"), ("https://www.facebook.com/", "social"),
    ("https://www.instagram.com/", "social"), ("https://www.linkedin.com/", "social"),
    ("https://mail.example.net/", "email"), ("https://news.example.org/article", "external"),
    ("", "typed_bookmarked"), ("{site}/", "internal"), ("{site}/products", "internal"),
    ("{site}/blog", "internal"),
)
